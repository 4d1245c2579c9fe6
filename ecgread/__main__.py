import sys

from ecgread.cli import main

sys.exit(main())
