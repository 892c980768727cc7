enum _PlaceholderCameraSim {}
