"""``python -m crossline``."""

from crossline.cli import main

main()
