"""`python -m engine ...` is the `numbagrad` command."""
import sys

from .cli import main

sys.exit(main())
