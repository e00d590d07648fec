import sys

from vchannel.cli import main

sys.exit(main())
