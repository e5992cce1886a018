"""`python -m pipeline ...` is the same as the `chiso766` command."""

from pipeline.cli.main import main

main()
