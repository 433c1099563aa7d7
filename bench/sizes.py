"""Size arithmetic for bench/run.py: how many secrets fit under Lambda's limit, and what the
sealed files would weigh with AWS KMS's ciphertexts instead of envseal's."""

LAMBDA_LIMIT = 4096


def largest_fitting(size_of, upper):
    """The largest k ≤ upper with size_of(k) ≤ the Lambda limit (sizes grow with k)."""
    if size_of(1) > LAMBDA_LIMIT:
        return 0
    low, high = 1, upper
    if size_of(high) <= LAMBDA_LIMIT:
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if size_of(middle) <= LAMBDA_LIMIT:
            low = middle
        else:
            high = middle
    return low


# AWS KMS's symmetric ciphertext is 152 bytes longer than its plaintext: the 184-byte blob that
# GenerateDataKey returns for a 32-byte key. envseal's blob is 61 bytes longer (docs/FORMAT.md).
AWS_BLOB_OVERHEAD = 152
ENVSEAL_BLOB_OVERHEAD = 61


def aws_lambda_estimate(secrets):
    """Lambda mode's size with AWS KMS ciphertexts: base64 of (value + 152 bytes) per value."""
    return sum(len(n) + 4 * -(-(len(v.encode()) + AWS_BLOB_OVERHEAD) // 3) for n, v in secrets)


def aws_envelope_extra(header_characters):
    """How much longer the envelope header gets when its wrapped data key is AWS KMS's 184-byte
    blob instead of envseal's 93-byte one (base64 of the larger header, less the measured one)."""
    binary = header_characters * 3 // 4
    return 4 * -(-(binary + 184 - 93) // 3) - header_characters
