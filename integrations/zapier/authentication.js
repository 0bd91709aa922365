'use strict';

const { baseUrl } = require('./lib/http');

// Connection test: GET /api/v1/me answers for the installation token's workspace (= whoami).
const test = async (z, bundle) => {
  const response = await z.request({ url: `${baseUrl(bundle)}/api/v1/me` });
  return response.data;
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'base_url',
      label: 'linkwire URL',
      type: 'string',
      required: true,
      helpText:
        'The public address of your linkwire server, e.g. `https://links.example.com` (no trailing path).',
    },
    {
      key: 'token',
      label: 'Installation Token',
      type: 'password',
      required: true,
      helpText:
        'A Zapier installation token (starts with `lwi_`). A workspace admin creates one in linkwire under ' +
        'Integrations → Installations, or with `POST /api/v1/integrations/installations` ' +
        '`{"platform":"zapier","name":"Zapier"}`. It is shown once.',
    },
  ],
  test,
  connectionLabel: '{{bundle.inputData.workspace_name}}',
};
