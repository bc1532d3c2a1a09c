#!/usr/bin/env node
'use strict';
require('../dist/client/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
    // Exit even when a native handle (the Temporal runtime after a failed connect) would keep
    // the process alive; the timer itself does not.
    setTimeout(() => process.exit(code), 2000).unref();
  });
