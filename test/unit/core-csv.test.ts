import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvDocument, csvField, csvLine } from '../../core/csv.js';

test('text a spreadsheet would run as a formula gets a leading apostrophe: = + - @ tab CR', () => {
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('+cmd|/C calc'), "'+cmd|/C calc");
  assert.equal(csvField('-2+3'), "'-2+3");
  assert.equal(csvField('@SUM(A1:A9)'), "'@SUM(A1:A9)");
  assert.equal(csvField('\t=1+1'), "'\t=1+1");
  // A carriage return also needs quoting (RFC 4180), after the apostrophe.
  assert.equal(csvField('\r=1+1'), "\"'\r=1+1\"");
  assert.equal(csvField('=HYPERLINK("http://x", "y")'), `"'=HYPERLINK(""http://x"", ""y"")"`);
});

test('ordinary cells are left alone; numbers are never prefixed; nothing is the empty cell', () => {
  assert.equal(csvField('native'), 'native');
  assert.equal(csvField('a=b;c=-1'), 'a=b;c=-1', 'a formula character inside the text is harmless');
  assert.equal(csvField(-3.5), '-3.5');
  assert.equal(csvField(0.1 + 0.2), '0.30000000000000004', 'full precision');
  assert.equal(csvField(''), '');
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
});

test('RFC 4180 quoting for quotes, commas, newlines and carriage returns', () => {
  assert.equal(csvField('a "quoted", reason'), '"a ""quoted"", reason"');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('bare\rreturn'), '"bare\rreturn"');
  assert.equal(csvLine(['x', 1, null, 'y,z']), 'x,1,,"y,z"');
  assert.equal(csvDocument(['a', 'b'], [['1', 2], ['=3', null]]), "a,b\n1,2\n'=3,\n");
  assert.equal(csvDocument(['a'], []), 'a\n');
});
