from xalign.cli.main import main

main()
