import sys

try:
    from .cli import main
except KeyboardInterrupt:   # Ctrl-C while Python was still loading pvprobe: nothing runs yet
    sys.exit(0)

sys.exit(main())
