'use strict';

const { version } = require('./package.json');
const { version: platformVersion } = require('zapier-platform-core');

const authentication = require('./authentication');
const { addBearerHeader, explainAuthErrors } = require('./lib/http');
const { triggers } = require('./triggers');

module.exports = {
  version,
  platformVersion,

  authentication,
  beforeRequest: [addBearerHeader],
  afterResponse: [explainAuthErrors],

  triggers: Object.fromEntries(triggers.map((t) => [t.key, t])),
  searches: {},
  creates: {},
  resources: {},
};
