// What a failed build step says: the line that names the cause, not make's echo of it.
import test from 'ava';
import { failureLine } from '../../images/buildstep.js';

test("a compiler's error is named, not make's Error 2 below it", (t) => {
  const out = [
    'gcc -c -o libtomcrypt/src/hashes/sha1.o libtomcrypt/src/hashes/sha1.c',
    'Assembler messages:',
    "Fatal error: can't create libtomcrypt/src/hashes/sha1.o: No space left on device",
    'make[1]: *** [Makefile:235: libtomcrypt/libtomcrypt.a] Error 2',
    'make: *** [Makefile:101: all] Error 2',
  ].join('\n');
  t.is(failureLine(out), "Fatal error: can't create libtomcrypt/src/hashes/sha1.o: No space left on device");
});

test('a configure error and a missing command are causes', (t) => {
  t.is(
    failureLine('checking for gcc... gcc\nconfigure: error: C compiler cannot create executables\n'),
    'configure: error: C compiler cannot create executables',
  );
  t.is(failureLine('sh: 1: bison: command not found\nmake: *** [scripts/Makefile.host:9] Error 127'), 'sh: 1: bison: command not found');
});

test("without a named cause, make's last error line, else the last line", (t) => {
  t.is(failureLine('CC mm/madvise.o\nmake[2]: *** [mm/Makefile:1: mm] Error 1\nmake: *** [Makefile:2: all] Error 2\n'), 'make: *** [Makefile:2: all] Error 2');
  t.is(failureLine('Killed\n'), 'Killed');
  t.is(failureLine(''), '');
});
