// The sources are plain CommonJS; "building" copies them (and the icon) to dist/, where n8n loads them.
const { cpSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const dir of ['credentials', 'nodes']) {
	cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
}
