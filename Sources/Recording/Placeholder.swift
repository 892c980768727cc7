enum _PlaceholderRecording {}
