from pimlab.cli import main

raise SystemExit(main())
