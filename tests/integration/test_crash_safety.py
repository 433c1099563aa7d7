"""SIGKILL the server during a mixed load, ten times, restarting it on the same store each time:
every acknowledged change survives and every ciphertext handed out still decrypts."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from conftest import EnvsealServer, assert_same_secret

ROUNDS = 10


def test_sigkill_under_mixed_load_loses_nothing_acknowledged() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="envseal-it-crash-"))
    server = EnvsealServer(workdir)
    rng = random.Random(11)
    keys: dict[str, int] = {}                # key ARN → acknowledged rotations
    aliases: dict[str, str] = {}             # alias → key ARN
    ciphertexts: list[tuple[str, bytes, bytes, dict]] = []  # key, blob, plaintext, context
    lock = threading.Lock()
    acknowledged = 0
    try:
        server.start()
        admin = server.admin_credentials()
        for round_number in range(ROUNDS):
            kms = server.client(admin)
            stop = threading.Event()

            def load(worker: int) -> None:
                nonlocal acknowledged
                client = server.client(admin)
                local = random.Random(round_number * 100 + worker)
                while not stop.is_set():
                    try:
                        with lock:
                            known = list(keys)
                        choice = local.random()
                        if choice < 0.15 or not known:
                            arn = client.create_key(Description=f"r{round_number}")["KeyMetadata"]["Arn"]
                            with lock:
                                keys[arn] = 0
                        elif choice < 0.3:
                            arn = local.choice(known)
                            name = f"alias/r{round_number}-w{worker}-{local.randrange(10**9)}"
                            client.create_alias(AliasName=name, TargetKeyId=arn)
                            with lock:
                                aliases[name] = arn
                        elif choice < 0.4:
                            arn = local.choice(known)
                            client.rotate_key_on_demand(KeyId=arn)
                            with lock:
                                keys[arn] += 1
                        elif choice < 0.75:
                            arn = local.choice(known)
                            plaintext = os.urandom(local.randrange(1, 200))
                            context = {"round": str(round_number)}
                            blob = client.encrypt(KeyId=arn, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
                            with lock:
                                ciphertexts.append((arn, blob, plaintext, context))
                        else:
                            with lock:
                                sample = local.choice(ciphertexts) if ciphertexts else None
                            if sample:
                                opened = client.decrypt(CiphertextBlob=sample[1], EncryptionContext=sample[3])
                                assert_same_secret(opened["Plaintext"], sample[2], "a ciphertext during the load")
                        with lock:
                            acknowledged += 1
                    except (BotoCoreError, ClientError, ConnectionError, OSError):
                        return  # the server died under us: only acknowledged operations count

            workers = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(3)]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.3, 1.2))
            server.process.kill()  # SIGKILL, mid-load
            server.process.wait(timeout=10)
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
            server.start()  # same store, same root key
            kms = server.client(admin)
            for arn, rotations in list(keys.items()):
                meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
                assert meta["KeyState"] == "Enabled", f"round {round_number}: {arn} is {meta['KeyState']}"
                listed = len(kms.list_key_rotations(KeyId=arn)["Rotations"])
                assert listed >= rotations, f"round {round_number}: {arn} lost rotations ({listed} < {rotations})"
            for name, arn in list(aliases.items()):
                assert kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"] == arn, f"round {round_number}: {name} lost"
            for arn, blob, plaintext, context in list(ciphertexts):
                opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
                assert opened["KeyId"] == arn
                assert_same_secret(opened["Plaintext"], plaintext, f"round {round_number}: a ciphertext handed out")
        verify = server.cli("audit", "verify")
        assert "audit log intact" in verify.stdout
        print(f"{ROUNDS} SIGKILL rounds: {acknowledged} acknowledged operations, {len(keys)} keys, "
              f"{len(aliases)} aliases, {sum(keys.values())} rotations, {len(ciphertexts)} ciphertexts: all survived")
        assert acknowledged > 50, "too little load to mean anything"
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
