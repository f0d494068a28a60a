"""``python -m ganzoo`` (and ``torchrun -m ganzoo``)."""

from ganzoo.cli import main

if __name__ == "__main__":
    main()
