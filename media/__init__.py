"""Video: sources, WebRTC out (WHEP/WHIP), relay, snapshots, recording, analysis (issue #5)."""
