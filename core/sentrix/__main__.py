import sys

from sentrix.cli.main import main

sys.exit(main())
