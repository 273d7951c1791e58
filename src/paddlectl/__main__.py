from paddlectl.cli.app import main

main()
