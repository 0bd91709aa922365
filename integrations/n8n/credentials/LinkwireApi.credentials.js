class LinkwireApi {
	constructor() {
		this.name = 'linkwireApi';
		this.displayName = 'linkwire API';
		this.documentationUrl = 'https://github.com/linkwire/linkwire/blob/main/docs/integrations.md';
		this.properties = [
			{
				displayName: 'Base URL',
				name: 'baseUrl',
				type: 'string',
				default: '',
				placeholder: 'https://links.example.com',
				description: 'The public URL of your linkwire server',
				required: true,
			},
			{
				displayName: 'Installation Token',
				name: 'token',
				type: 'string',
				typeOptions: { password: true },
				default: '',
				description: 'An n8n installation token (lwi_…) created by a workspace admin',
				required: true,
			},
		];
		this.authenticate = {
			type: 'generic',
			properties: {
				headers: { Authorization: '=Bearer {{$credentials.token}}' },
			},
		};
		this.test = {
			request: {
				baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
				url: '/api/v1/me',
			},
		};
	}
}

module.exports = { LinkwireApi };
