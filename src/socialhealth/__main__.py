"""``python -m socialhealth``: the command line (see :mod:`socialhealth.cli`)."""
from socialhealth.cli import run

if __name__ == "__main__":
    run()
