// plan.js LABELS.yaml CURRENT.json: what `github-label-sync --dry-run
// --allow-added-labels` would do to a repository whose labels are CURRENT,
// through github-label-sync's own steps (its YAML loading as its CLI does,
// validation, diff and the lines it prints) with the GitHub API call left
// out. Prints {"invalid": [...], "diff": [...], "lines": [...]} as JSON.
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');
const validate = require('github-label-sync/lib/validate-label-format');
const calculateLabelDiff = require('github-label-sync/lib/calculate-label-diff');
const stringifyLabelDiff = require('github-label-sync/lib/stringify-label-diff');

const [labelsFile, currentFile] = process.argv.slice(2);
const labels = yaml.safeLoad(fs.readFileSync(labelsFile, 'utf8'));
const current = JSON.parse(fs.readFileSync(currentFile, 'utf8'));
const invalid = [];
for (const label of labels) {
	if (!validate(label)) {
		invalid.push({ label, errors: validate.errors.map((e) => `${e.instancePath} ${e.message}`.trim()) });
	}
}
const diff = invalid.length ? [] : calculateLabelDiff(current, labels, true);
process.stdout.write(JSON.stringify({ invalid, diff, lines: stringifyLabelDiff(diff) }) + '\n');
