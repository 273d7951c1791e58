from paddlectl.cli.entry import main

main()
