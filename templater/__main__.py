import sys

from templater.cli import main

sys.exit(main())
