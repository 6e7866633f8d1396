// Stand-in for a Windows-only optional dependency of vite (see package.json); vite catches this.
throw new Error("napi-windows-process-start-time: not available in this project (local stand-in)");
