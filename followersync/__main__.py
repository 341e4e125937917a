from followersync.cli import main

main()
