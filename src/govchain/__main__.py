"""`python -m govchain` runs the command line."""

from govchain.cli import main

main()
