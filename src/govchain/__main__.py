"""`python -m govchain` runs the command line."""

from govchain.entrypoints.cli import main

main()
