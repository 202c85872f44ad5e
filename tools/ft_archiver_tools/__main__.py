from ft_archiver_tools.cli import main

raise SystemExit(main())
