from epicstar.cli import main

main()
