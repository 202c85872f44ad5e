from ft_archiver.cli import main

raise SystemExit(main())
