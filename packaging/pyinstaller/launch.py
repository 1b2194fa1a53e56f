"""The standalone build's entry point: ``billet-studio`` with arguments runs the command
line; without any (a double-click) it opens the studio."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # dataset export starts worker processes
    from billet_studio.cli import main

    sys.exit(main(sys.argv[1:] or ["gui"]))
