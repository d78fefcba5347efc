"""A job for tests/test_cores.py, run as a child process: registers with the setting in argv,
prints its thread count, then obeys stdin: `refresh` (prints the count again) or `exit`.
Its log (the registry's decisions, "waiting for ...") goes to stderr."""

from __future__ import annotations

import logging
import sys

from nmt_bottleneck.cores import CoreClaim


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    claim = CoreClaim(sys.argv[1], "test.threads", poll_s=0.05)
    print(claim.acquire(), flush=True)
    for line in sys.stdin:
        if line.strip() == "refresh":
            print(claim.refresh(), flush=True)
        elif line.strip() == "exit":
            claim.release()
            return


if __name__ == "__main__":
    main()
