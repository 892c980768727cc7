enum _PlaceholderCatalog {}
