from chok.cli.main import main

main()
