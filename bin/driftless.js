#!/usr/bin/env node
'use strict';
require('../dist/client/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
