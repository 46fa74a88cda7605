from transfer_laws.cli import main

raise SystemExit(main())
