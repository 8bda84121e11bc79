;; The DATA reader's fast path: skips the plain line breaks in a window of message data.
;;
;; Reads: octets [from, end) of this module's memory, where the caller copied them.
;; Emits: the offset of the first CR or LF from `from` on that is not a plain line break (CRLF
;; followed, before `end`, by an octet other than '.'), or `end` if there is none. A CRLF whose
;; next octet lies at or past `end` counts as not plain: the caller decides with the octets it has.
;;
;; Sixteen octets per step: compare with CR and with LF, and go on while neither matches.
;;
;; Built into line-skip-module.ts by `pnpm --filter @mailway/smtp wasm`; a test checks that the
;; bytes there are this file's.
(module
  ;; Two pages (128 KiB): a whole socket read, and the few held-back octets before it.
  (memory (export "memory") 2)
  (func (export "skip") (param $i i32) (param $end i32) (result i32)
    (local $block v128) (local $hits i32) (local $octet i32)
    (loop $lines
      (block $found
        ;; Whole blocks of 16.
        (block $tail
          (loop $blocks
            (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
            (local.set $block (v128.load align=1 (local.get $i)))
            (local.set $hits (i8x16.bitmask (v128.or
              (i8x16.eq (local.get $block) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13))
              (i8x16.eq (local.get $block) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))))
            (if (local.get $hits) (then
              (local.set $i (i32.add (local.get $i) (i32.ctz (local.get $hits))))
              (br $found)))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $blocks)))
        ;; The last few octets, one at a time.
        (loop $octets
          (if (i32.ge_u (local.get $i) (local.get $end)) (then (return (local.get $end))))
          (local.set $octet (i32.load8_u (local.get $i)))
          (br_if $found (i32.or (i32.eq (local.get $octet) (i32.const 13)) (i32.eq (local.get $octet) (i32.const 10))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $octets)))
      ;; $i holds a CR or an LF: go past a plain line break, stop at anything else.
      (if (i32.ne (i32.load8_u (local.get $i)) (i32.const 13)) (then (return (local.get $i))))
      (if (i32.ge_u (i32.add (local.get $i) (i32.const 2)) (local.get $end)) (then (return (local.get $i))))
      (if (i32.ne (i32.load8_u offset=1 (local.get $i)) (i32.const 10)) (then (return (local.get $i))))
      (if (i32.eq (i32.load8_u offset=2 (local.get $i)) (i32.const 46)) (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $lines))
    (unreachable)))
