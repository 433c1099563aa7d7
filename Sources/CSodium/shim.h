#ifndef ENVSEAL_CSODIUM_SHIM_H
#define ENVSEAL_CSODIUM_SHIM_H
#include <sodium.h>
#endif
