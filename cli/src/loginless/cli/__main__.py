from loginless.cli.commands import main

main()
