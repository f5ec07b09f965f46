"""What every area uses: the neutral event, ports, context, routing, the dispatcher, typed buttons,
the permission model, the form engine, translations, menus, CSV exports, the date grammar."""
