;; int8 x float32 (W8A32) and int8 x int8 / int16 (W8A8, W8A16) linear kernels, WebAssembly SIMD128.
;;
;; Layout (see src/kernels/packed.ts, where it is defined once): output rows in blocks of 4; each
;; group of a row is zero-padded to a multiple of 16 columns; a block stores, for every 16-column
;; chunk, 16 bytes of row 0, then row 1, row 2, row 3 (64 bytes per chunk), so one pointer walks all
;; four rows. Scales: per block and group, 4 float32 (rows 0..3). x is copied in with the same
;; padding (float32 for W8A32, int16 for W8A8 and W8A16), padding zero, so padded columns add exact
;; zeros.
;;
;; W8A32: int8 -> i16 -> i32 -> f32 (in registers for one row of x; once per panel, scales folded
;; in, for more), f32x4 mul + add. W8A8 / W8A16: i32x4.dot_i16x8_s, exact int32 sums over each
;; flush run of `flush` chunks of a group (a whole group for int8 activations: |acc| <= 2^14 K < 2^31
;; for K < 131072; 16 chunks = 256 columns for int16 ones: |acc| <= 2^22 256 = 2^30), then the
;; reference's float32 formula lane by lane (referenceLinearW8A8, referenceLinearW8A16). Loop bodies
;; stay small: V8 schedules a body's loads first, and a big body spills them to the stack.
(module
  (memory (export "memory") 1 65536)

  ;; [sum a, sum b, sum c, sum d] of four vectors (transpose-add).
  (func $hsum_f32 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $u v128) (local $v v128)
    (local.set $u (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $v (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $v))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $v))))

  ;; The same transpose-add for int32 lanes: [sum a, sum b, sum c, sum d].
  (func $hsum_i32 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $u v128) (local $v v128)
    (local.set $u (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $v (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $v))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $v))))

  ;; The one W8A8 reducer: tot + fround(fround(acc) * sxs) lane by lane, acc = the exact int32 sums
  ;; [sum a, sum b, sum c, sum d] of one flush run, sxs = fround(sx * scale) per lane (the float32
  ;; step of referenceLinearW8A8).
  (func $fold_i8 (param $tot v128) (param $a v128) (param $b v128) (param $c v128) (param $d v128) (param $sxs v128) (result v128)
    (f32x4.add (local.get $tot)
      (f32x4.mul (f32x4.convert_i32x4_s (call $hsum_i32 (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (local.get $sxs))))

  ;; One x row (float32, padded) times one 4-row weight block: the 4 outputs, before bias.
  (func $blk1 (param $w i32) (param $s i32) (param $x i32) (param $groups i32) (param $cpg i32) (result v128)
    (local $c i32) (local $wv v128) (local $lo v128) (local $hi v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (loop $group
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $c (local.get $cpg))
      (loop $chunk
        (local.set $x0 (v128.load offset=0 (local.get $x)))
        (local.set $x1 (v128.load offset=16 (local.get $x)))
        (local.set $x2 (v128.load offset=32 (local.get $x)))
        (local.set $x3 (v128.load offset=48 (local.get $x)))
        (local.set $wv (v128.load offset=0 (local.get $w)))
        (local.set $lo (i16x8.extend_low_i8x16_s (local.get $wv)))
        (local.set $hi (i16x8.extend_high_i8x16_s (local.get $wv)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $x0))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $x1))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $x2))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $x3))))
        (local.set $wv (v128.load offset=16 (local.get $w)))
        (local.set $lo (i16x8.extend_low_i8x16_s (local.get $wv)))
        (local.set $hi (i16x8.extend_high_i8x16_s (local.get $wv)))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $x0))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $x1))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $x2))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $x3))))
        (local.set $wv (v128.load offset=32 (local.get $w)))
        (local.set $lo (i16x8.extend_low_i8x16_s (local.get $wv)))
        (local.set $hi (i16x8.extend_high_i8x16_s (local.get $wv)))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $x0))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $x1))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $x2))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $x3))))
        (local.set $wv (v128.load offset=48 (local.get $w)))
        (local.set $lo (i16x8.extend_low_i8x16_s (local.get $wv)))
        (local.set $hi (i16x8.extend_high_i8x16_s (local.get $wv)))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $x0))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $x1))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $x2))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $x3))))
        (local.set $w (i32.add (local.get $w) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
      (local.set $t0 (f32x4.add (local.get $t0) (f32x4.mul (local.get $a0) (v128.load32_splat offset=0 (local.get $s)))))
      (local.set $t1 (f32x4.add (local.get $t1) (f32x4.mul (local.get $a1) (v128.load32_splat offset=4 (local.get $s)))))
      (local.set $t2 (f32x4.add (local.get $t2) (f32x4.mul (local.get $a2) (v128.load32_splat offset=8 (local.get $s)))))
      (local.set $t3 (f32x4.add (local.get $t3) (f32x4.mul (local.get $a3) (v128.load32_splat offset=12 (local.get $s)))))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (call $hsum_f32 (local.get $t0) (local.get $t1) (local.get $t2) (local.get $t3)))

  ;; One int16 x row times one 4-row weight block (int8, widened in registers), exact int32 sums per
  ;; flush run (`flush` chunks of a group; the group's last run may be shorter); returns, per row,
  ;; total = total + fround(fround(acc) * fround(sx * scale)) over the runs of every group (before bias).
  (func $blk1_i8 (param $w i32) (param $s i32) (param $x i32) (param $groups i32) (param $cpg i32) (param $flush i32) (param $sx v128) (result v128)
    (local $c i32) (local $left i32) (local $wv v128) (local $xl v128) (local $xh v128) (local $sxs v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $tot v128)
    (loop $group
      (local.set $sxs (f32x4.mul (local.get $sx) (v128.load (local.get $s))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (loop $chunk
          (local.set $xl (v128.load offset=0 (local.get $x)))
          (local.set $xh (v128.load offset=16 (local.get $x)))
          (local.set $wv (v128.load offset=0 (local.get $w)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=16 (local.get $w)))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=32 (local.get $w)))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=48 (local.get $w)))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 32)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $tot (call $fold_i8 (local.get $tot) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $sxs)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.get $tot))

  ;; blk1_i8 for two consecutive weight blocks at once (w and w + wb, scales s and s + sb): two
  ;; weight streams in flight and each x load serving 8 rows (measured 13 to 16 % faster at
  ;; 1x4096x4096 than one block per pass). Returns the two blocks' totals (before bias).
  (func $blk2_i8 (param $w i32) (param $wb i32) (param $s i32) (param $sb i32) (param $x i32) (param $groups i32) (param $cpg i32) (param $flush i32) (param $sx v128) (result v128 v128)
    (local $c i32) (local $left i32) (local $w2 i32) (local $s2 i32) (local $wv v128) (local $xl v128) (local $xh v128) (local $sxs v128) (local $sxs2 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $tot v128) (local $tot2 v128)
    (local.set $w2 (i32.add (local.get $w) (local.get $wb)))
    (local.set $s2 (i32.add (local.get $s) (local.get $sb)))
    (loop $group
      (local.set $sxs (f32x4.mul (local.get $sx) (v128.load (local.get $s))))
      (local.set $sxs2 (f32x4.mul (local.get $sx) (v128.load (local.get $s2))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $a4 (v128.const i32x4 0 0 0 0))
        (local.set $a5 (v128.const i32x4 0 0 0 0))
        (local.set $a6 (v128.const i32x4 0 0 0 0))
        (local.set $a7 (v128.const i32x4 0 0 0 0))
        (loop $chunk
          (local.set $xl (v128.load offset=0 (local.get $x)))
          (local.set $xh (v128.load offset=16 (local.get $x)))
          (local.set $wv (v128.load offset=0 (local.get $w)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=16 (local.get $w)))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=32 (local.get $w)))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=48 (local.get $w)))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=0 (local.get $w2)))
          (local.set $a4 (i32x4.add (local.get $a4) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=16 (local.get $w2)))
          (local.set $a5 (i32x4.add (local.get $a5) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=32 (local.get $w2)))
          (local.set $a6 (i32x4.add (local.get $a6) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $wv (v128.load offset=48 (local.get $w2)))
          (local.set $a7 (i32x4.add (local.get $a7) (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (local.get $xl)) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (local.get $xh)))))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $w2 (i32.add (local.get $w2) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 32)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $tot (call $fold_i8 (local.get $tot) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $sxs)))
        (local.set $tot2 (call $fold_i8 (local.get $tot2) (local.get $a4) (local.get $a5) (local.get $a6) (local.get $a7) (local.get $sxs2)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $s2 (i32.add (local.get $s2) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.get $tot) (local.get $tot2))

  ;; relaxed-only{ (the plain SIMD128 build drops everything up to the closing marker: scripts/build-wasm.mjs)
  ;; W8A8 on relaxed SIMD (op 3): one x row times one 4-row int8 weight block, with
  ;; i32x4.relaxed_dot_i8x16_i7x16_add_s (V8 on x64 with AVX-VNNI: one vpdpbusd). Its result is the same
  ;; on every engine only while the second operand is in [0, 127], so x comes split into two 7-bit
  ;; planes (splitPlanes in packed.ts: per 16-column chunk 16 bytes of l = x & 127, then 16 of
  ;; n = [x < 0]; two's complement: x = l - 128 n, exactly; 2 kp bytes a row), and per row
  ;;   sum w x = sum w l - 128 sum w n,
  ;; two dots per 16 weights, accumulated in $a<r> (l) and $b<r> (n). int32 lanes wrap, which is exact
  ;; here: the true sum of each flush run is |.| <= 128·128·k < 2^31 (k < 131072), so a - (b << 7)
  ;; lane by lane, then the transpose-add, is that sum; the float32 step is $fold_i8, as in blk1_i8.
  (func $blk1_r8 (param $w i32) (param $s i32) (param $x i32) (param $groups i32) (param $cpg i32) (param $flush i32) (param $sx v128) (result v128)
    (local $c i32) (local $left i32) (local $wv v128) (local $xl v128) (local $xn v128) (local $sxs v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $tot v128)
    (loop $group
      (local.set $sxs (f32x4.mul (local.get $sx) (v128.load (local.get $s))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (loop $chunk
          (local.set $xl (v128.load offset=0 (local.get $x)))
          (local.set $xn (v128.load offset=16 (local.get $x)))
          (local.set $wv (v128.load offset=0 (local.get $w)))
          (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xl) (local.get $a0)))
          (local.set $b0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xn) (local.get $b0)))
          (local.set $wv (v128.load offset=16 (local.get $w)))
          (local.set $a1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xl) (local.get $a1)))
          (local.set $b1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xn) (local.get $b1)))
          (local.set $wv (v128.load offset=32 (local.get $w)))
          (local.set $a2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xl) (local.get $a2)))
          (local.set $b2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xn) (local.get $b2)))
          (local.set $wv (v128.load offset=48 (local.get $w)))
          (local.set $a3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xl) (local.get $a3)))
          (local.set $b3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (local.get $xn) (local.get $b3)))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 32)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $tot (call $fold_i8 (local.get $tot)
          (i32x4.sub (local.get $a0) (i32x4.shl (local.get $b0) (i32.const 7)))
          (i32x4.sub (local.get $a1) (i32x4.shl (local.get $b1) (i32.const 7)))
          (i32x4.sub (local.get $a2) (i32x4.shl (local.get $b2) (i32.const 7)))
          (i32x4.sub (local.get $a3) (i32x4.shl (local.get $b3) (i32.const 7)))
          (local.get $sxs)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.get $tot))

  ;; Three x rows (planes as blk1_r8 reads them, rows xs bytes apart) times two rows of a packed int8
  ;; weight block (w, s and bias point at the first of the two rows): 12 accumulators, so 12 relaxed
  ;; dots are in flight, as many as hide their latency (8, as in blk1_r8, ran at 1.2 dots a cycle
  ;; on the Xeon, 12 at 1.7: measured in a bare loop). Per flush run the sums of rows r0, r1 of x
  ;; rows t0, t1 fold in lanes [t0r0, t0r1, t1r0, t1r1], those of t2 in [t2r0, t2r1, -, -], each lane
  ;; as $fold_i8 does; writes out[t * os + r] = total + bias[r].
  (func $mk_r8 (param $w i32) (param $s i32) (param $x i32) (param $xs i32) (param $xsc i32) (param $groups i32) (param $cpg i32) (param $flush i32)
                (param $out i32) (param $os i32) (param $bias i32)
    (local $c i32) (local $left i32) (local $x1 i32) (local $x2 i32)
    (local $w0 v128) (local $w1 v128) (local $v v128) (local $sw v128) (local $sxa v128) (local $sxb v128)
    (local $sxsa v128) (local $sxsb v128) (local $tota v128) (local $totb v128)
    (local $l00 v128) (local $l01 v128) (local $l10 v128) (local $l11 v128) (local $l20 v128) (local $l21 v128)
    (local $n00 v128) (local $n01 v128) (local $n10 v128) (local $n11 v128) (local $n20 v128) (local $n21 v128)
    (local.set $x1 (i32.add (local.get $x) (local.get $xs)))
    (local.set $x2 (i32.add (local.get $x1) (local.get $xs)))
    (local.set $sxa (i8x16.shuffle 0 1 2 3 0 1 2 3 16 17 18 19 16 17 18 19
      (v128.load32_splat offset=0 (local.get $xsc)) (v128.load32_splat offset=4 (local.get $xsc))))
    (local.set $sxb (v128.load32_splat offset=8 (local.get $xsc)))
    (loop $group
      (local.set $sw (v128.load64_splat (local.get $s)))
      (local.set $sxsa (f32x4.mul (local.get $sxa) (local.get $sw)))
      (local.set $sxsb (f32x4.mul (local.get $sxb) (local.get $sw)))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $l00 (v128.const i32x4 0 0 0 0))
        (local.set $l01 (v128.const i32x4 0 0 0 0))
        (local.set $l10 (v128.const i32x4 0 0 0 0))
        (local.set $l11 (v128.const i32x4 0 0 0 0))
        (local.set $l20 (v128.const i32x4 0 0 0 0))
        (local.set $l21 (v128.const i32x4 0 0 0 0))
        (local.set $n00 (v128.const i32x4 0 0 0 0))
        (local.set $n01 (v128.const i32x4 0 0 0 0))
        (local.set $n10 (v128.const i32x4 0 0 0 0))
        (local.set $n11 (v128.const i32x4 0 0 0 0))
        (local.set $n20 (v128.const i32x4 0 0 0 0))
        (local.set $n21 (v128.const i32x4 0 0 0 0))
        (loop $chunk
          (local.set $w0 (v128.load offset=0 (local.get $w)))
          (local.set $w1 (v128.load offset=16 (local.get $w)))
          (local.set $v (v128.load offset=0 (local.get $x)))
          (local.set $l00 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $l00)))
          (local.set $l01 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $l01)))
          (local.set $v (v128.load offset=16 (local.get $x)))
          (local.set $n00 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $n00)))
          (local.set $n01 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $n01)))
          (local.set $v (v128.load offset=0 (local.get $x1)))
          (local.set $l10 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $l10)))
          (local.set $l11 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $l11)))
          (local.set $v (v128.load offset=16 (local.get $x1)))
          (local.set $n10 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $n10)))
          (local.set $n11 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $n11)))
          (local.set $v (v128.load offset=0 (local.get $x2)))
          (local.set $l20 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $l20)))
          (local.set $l21 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $l21)))
          (local.set $v (v128.load offset=16 (local.get $x2)))
          (local.set $n20 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $n20)))
          (local.set $n21 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $n21)))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 32)))
          (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
          (local.set $x2 (i32.add (local.get $x2) (i32.const 32)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $l00 (i32x4.sub (local.get $l00) (i32x4.shl (local.get $n00) (i32.const 7))))
        (local.set $l01 (i32x4.sub (local.get $l01) (i32x4.shl (local.get $n01) (i32.const 7))))
        (local.set $l10 (i32x4.sub (local.get $l10) (i32x4.shl (local.get $n10) (i32.const 7))))
        (local.set $l11 (i32x4.sub (local.get $l11) (i32x4.shl (local.get $n11) (i32.const 7))))
        (local.set $l20 (i32x4.sub (local.get $l20) (i32x4.shl (local.get $n20) (i32.const 7))))
        (local.set $l21 (i32x4.sub (local.get $l21) (i32x4.shl (local.get $n21) (i32.const 7))))
        (local.set $tota (call $fold_i8 (local.get $tota) (local.get $l00) (local.get $l01) (local.get $l10) (local.get $l11) (local.get $sxsa)))
        (local.set $totb (call $fold_i8 (local.get $totb) (local.get $l20) (local.get $l21) (local.get $l20) (local.get $l21) (local.get $sxsb)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.set $v (v128.load64_splat (local.get $bias)))
    (local.set $tota (f32x4.add (local.get $tota) (local.get $v)))
    (v128.store64_lane 0 (local.get $out) (local.get $tota))
    (v128.store64_lane 1 (i32.add (local.get $out) (local.get $os)) (local.get $tota))
    (v128.store64_lane 0 (i32.add (local.get $out) (i32.shl (local.get $os) (i32.const 1))) (f32x4.add (local.get $totb) (local.get $v))))

  ;; W8A16 on relaxed SIMD (op 4). x is int16; u = x + 32768 (= x ^ 0x8000) is in [0, 65535] and is
  ;; split into three planes in [0, 127] (splitPlanes16 in packed.ts: per 16-column chunk 48 bytes,
  ;; 16 of p0 = u & 127, 16 of p1 = (u >> 7) & 127, 16 of p2 = u >> 14 in [0, 3]; 3 kp bytes a row),
  ;; u = p0 + 128 p1 + 16384 p2 exactly, so per flush run
  ;;   sum w x = sum w p0 + 128 sum w p1 + 16384 sum w p2 - 32768 sum w,
  ;; three relaxed dots per 16 weights and x row, and sum w (per weight row and run, independent of
  ;; x) once per panel ($wsum_r16). Bounds (flush runs of at most 16 chunks = 256 columns; an int32
  ;; lane takes 4 columns of each chunk, 64 per run): per lane |sum w p0|, |sum w p1| <= 64·128·127
  ;; < 2^20, |sum w p2| <= 64·128·3 < 2^15, so a0 + (a1 << 7) + (a2 << 14) = sum w u over the lane's
  ;; columns, |.| <= 64·128·65535 < 2^29; the transpose-add of four lanes, sum w u over the run,
  ;; |.| <= 256·128·65535 = 2^31 - 2^15 < 2^31; |sum w| <= 256·128 = 2^15, so (sum w) << 15 <= 2^30;
  ;; and the difference, the run's sum w x, is |.| <= 256·2^22 = 2^30 (as referenceLinearW8A16 says):
  ;; every intermediate is an int32 without wrapping, so the sum is exact and the float32 step
  ;; ($fold_u16, as $fold_i8) is the reference's.

  ;; tot + fround(fround(hsum(a, b, c, d) - (sw << 15)) * sxs) lane by lane: $fold_i8 with the
  ;; 32768 · sum w of each lane's weight row taken off the exact sum w u first.
  (func $fold_u16 (param $tot v128) (param $a v128) (param $b v128) (param $c v128) (param $d v128) (param $sw v128) (param $sxs v128) (result v128)
    (f32x4.add (local.get $tot)
      (f32x4.mul (f32x4.convert_i32x4_s (i32x4.sub (call $hsum_i32 (local.get $a) (local.get $b) (local.get $c) (local.get $d))
        (i32x4.shl (local.get $sw) (i32.const 15)))) (local.get $sxs))))

  ;; sum w of `blocks` packed 4-row blocks per (block, group, flush run), rows 0..3 as 4 int32 (16
  ;; bytes) at dst, in the order the kernels walk them: one relaxed dot with a vector of ones (in
  ;; [0, 127]) per 16 weights.
  (func $wsum_r16 (param $w i32) (param $dst i32) (param $blocks i32) (param $groups i32) (param $cpg i32) (param $flush i32)
    (local $g i32) (local $c i32) (local $left i32) (local $ones v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $ones (i8x16.splat (i32.const 1)))
    (loop $block
      (local.set $g (local.get $groups))
      (loop $group
        (local.set $left (local.get $cpg))
        (loop $run
          (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
          (local.set $left (i32.sub (local.get $left) (local.get $c)))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (loop $chunk
            (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=0 (local.get $w)) (local.get $ones) (local.get $a0)))
            (local.set $a1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=16 (local.get $w)) (local.get $ones) (local.get $a1)))
            (local.set $a2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=32 (local.get $w)) (local.get $ones) (local.get $a2)))
            (local.set $a3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=48 (local.get $w)) (local.get $ones) (local.get $a3)))
            (local.set $w (i32.add (local.get $w) (i32.const 64)))
            (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
          (v128.store (local.get $dst) (call $hsum_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (br_if $run (local.get $left)))
        (br_if $group (local.tee $g (i32.sub (local.get $g) (i32.const 1)))))
      (br_if $block (local.tee $blocks (i32.sub (local.get $blocks) (i32.const 1))))))

  ;; One x row (three planes) times one 4-row packed int8 weight block (ws at its sum w per run, 16
  ;; bytes a run): 12 accumulators, 12 relaxed dots in flight; each x plane is loaded once per chunk
  ;; and each weight vector once per plane (from L1), so only one of each is live. Per flush run the
  ;; sums of rows 0..3 fold in lanes [r0, r1, r2, r3]; returns the total (before bias).
  (func $blk1_r16 (param $w i32) (param $s i32) (param $x i32) (param $ws i32) (param $groups i32) (param $cpg i32) (param $flush i32)
                  (param $sx v128) (result v128)
    (local $c i32) (local $left i32) (local $v v128) (local $sxs v128) (local $tot v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (loop $group
      (local.set $sxs (f32x4.mul (local.get $sx) (v128.load (local.get $s))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $d0 (v128.const i32x4 0 0 0 0))
        (local.set $d1 (v128.const i32x4 0 0 0 0))
        (local.set $d2 (v128.const i32x4 0 0 0 0))
        (local.set $d3 (v128.const i32x4 0 0 0 0))
        (loop $chunk ;; $a<r>, $b<r>, $d<r>: planes 0, 1, 2 of weight row r
          (local.set $v (v128.load offset=0 (local.get $x)))
          (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=0 (local.get $w)) (local.get $v) (local.get $a0)))
          (local.set $a1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=16 (local.get $w)) (local.get $v) (local.get $a1)))
          (local.set $a2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=32 (local.get $w)) (local.get $v) (local.get $a2)))
          (local.set $a3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=48 (local.get $w)) (local.get $v) (local.get $a3)))
          (local.set $v (v128.load offset=16 (local.get $x)))
          (local.set $b0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=0 (local.get $w)) (local.get $v) (local.get $b0)))
          (local.set $b1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=16 (local.get $w)) (local.get $v) (local.get $b1)))
          (local.set $b2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=32 (local.get $w)) (local.get $v) (local.get $b2)))
          (local.set $b3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=48 (local.get $w)) (local.get $v) (local.get $b3)))
          (local.set $v (v128.load offset=32 (local.get $x)))
          (local.set $d0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=0 (local.get $w)) (local.get $v) (local.get $d0)))
          (local.set $d1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=16 (local.get $w)) (local.get $v) (local.get $d1)))
          (local.set $d2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=32 (local.get $w)) (local.get $v) (local.get $d2)))
          (local.set $d3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=48 (local.get $w)) (local.get $v) (local.get $d3)))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 48)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add (i32x4.shl (local.get $b0) (i32.const 7)) (i32x4.shl (local.get $d0) (i32.const 14)))))
        (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add (i32x4.shl (local.get $b1) (i32.const 7)) (i32x4.shl (local.get $d1) (i32.const 14)))))
        (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add (i32x4.shl (local.get $b2) (i32.const 7)) (i32x4.shl (local.get $d2) (i32.const 14)))))
        (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add (i32x4.shl (local.get $b3) (i32.const 7)) (i32x4.shl (local.get $d3) (i32.const 14)))))
        (local.set $tot (call $fold_u16 (local.get $tot) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)
          (v128.load (local.get $ws)) (local.get $sxs)))
        (local.set $ws (i32.add (local.get $ws) (i32.const 16)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.get $tot))

  ;; Two x rows (three planes each, rows xs bytes apart) times two rows of a packed int8 weight block
  ;; (pointers as blk1_r16): 12 accumulators (12 relaxed dots in flight, as in mk_r8), 2 weight and 6
  ;; x loads per chunk; per flush run the sums of rows r0, r1 of x rows t0, t1 fold in lanes
  ;; [t0r0, t0r1, t1r0, t1r1]; writes out[t * os + r] = total + bias[r].
  (func $mk_r16 (param $w i32) (param $s i32) (param $x i32) (param $xs i32) (param $xsc i32) (param $ws i32) (param $groups i32) (param $cpg i32) (param $flush i32)
                (param $out i32) (param $os i32) (param $bias i32)
    (local $c i32) (local $left i32) (local $x1 i32)
    (local $w0 v128) (local $w1 v128) (local $v v128) (local $sxa v128) (local $sxs v128) (local $tot v128)
    (local $p000 v128) (local $p001 v128) (local $p010 v128) (local $p011 v128)
    (local $p100 v128) (local $p101 v128) (local $p110 v128) (local $p111 v128)
    (local $p200 v128) (local $p201 v128) (local $p210 v128) (local $p211 v128)
    (local.set $x1 (i32.add (local.get $x) (local.get $xs)))
    (local.set $sxa (i8x16.shuffle 0 1 2 3 0 1 2 3 16 17 18 19 16 17 18 19
      (v128.load32_splat offset=0 (local.get $xsc)) (v128.load32_splat offset=4 (local.get $xsc))))
    (loop $group
      (local.set $sxs (f32x4.mul (local.get $sxa) (v128.load64_splat (local.get $s))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $p000 (v128.const i32x4 0 0 0 0))
        (local.set $p001 (v128.const i32x4 0 0 0 0))
        (local.set $p010 (v128.const i32x4 0 0 0 0))
        (local.set $p011 (v128.const i32x4 0 0 0 0))
        (local.set $p100 (v128.const i32x4 0 0 0 0))
        (local.set $p101 (v128.const i32x4 0 0 0 0))
        (local.set $p110 (v128.const i32x4 0 0 0 0))
        (local.set $p111 (v128.const i32x4 0 0 0 0))
        (local.set $p200 (v128.const i32x4 0 0 0 0))
        (local.set $p201 (v128.const i32x4 0 0 0 0))
        (local.set $p210 (v128.const i32x4 0 0 0 0))
        (local.set $p211 (v128.const i32x4 0 0 0 0))
        (loop $chunk ;; $p<plane><x row><weight row>
          (local.set $w0 (v128.load offset=0 (local.get $w)))
          (local.set $w1 (v128.load offset=16 (local.get $w)))
          (local.set $v (v128.load offset=0 (local.get $x)))
          (local.set $p000 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p000)))
          (local.set $p001 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p001)))
          (local.set $v (v128.load offset=16 (local.get $x)))
          (local.set $p100 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p100)))
          (local.set $p101 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p101)))
          (local.set $v (v128.load offset=32 (local.get $x)))
          (local.set $p200 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p200)))
          (local.set $p201 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p201)))
          (local.set $v (v128.load offset=0 (local.get $x1)))
          (local.set $p010 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p010)))
          (local.set $p011 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p011)))
          (local.set $v (v128.load offset=16 (local.get $x1)))
          (local.set $p110 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p110)))
          (local.set $p111 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p111)))
          (local.set $v (v128.load offset=32 (local.get $x1)))
          (local.set $p210 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $v) (local.get $p210)))
          (local.set $p211 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $v) (local.get $p211)))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 48)))
          (local.set $x1 (i32.add (local.get $x1) (i32.const 48)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $p000 (i32x4.add (local.get $p000) (i32x4.add (i32x4.shl (local.get $p100) (i32.const 7)) (i32x4.shl (local.get $p200) (i32.const 14)))))
        (local.set $p001 (i32x4.add (local.get $p001) (i32x4.add (i32x4.shl (local.get $p101) (i32.const 7)) (i32x4.shl (local.get $p201) (i32.const 14)))))
        (local.set $p010 (i32x4.add (local.get $p010) (i32x4.add (i32x4.shl (local.get $p110) (i32.const 7)) (i32x4.shl (local.get $p210) (i32.const 14)))))
        (local.set $p011 (i32x4.add (local.get $p011) (i32x4.add (i32x4.shl (local.get $p111) (i32.const 7)) (i32x4.shl (local.get $p211) (i32.const 14)))))
        (local.set $tot (call $fold_u16 (local.get $tot) (local.get $p000) (local.get $p001) (local.get $p010) (local.get $p011)
          (v128.load64_splat (local.get $ws)) (local.get $sxs)))
        (local.set $ws (i32.add (local.get $ws) (i32.const 16)))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.set $tot (f32x4.add (local.get $tot) (v128.load64_splat (local.get $bias))))
    (v128.store64_lane 0 (local.get $out) (local.get $tot))
    (v128.store64_lane 1 (i32.add (local.get $out) (local.get $os)) (local.get $tot)))
  ;; }relaxed-only

  ;; Widens `blocks` packed blocks to float32 with their scales folded in: dst = fround(q * scale of
  ;; its (row, group)); within each 16-column chunk the order is column-vector major (columns 0-3 of
  ;; rows 0..3, then columns 4-7, ...), so mk_f32 steps through 64 contiguous bytes per 4 columns.
  ;; With two or more rows of x a panel is widened once and every pair of rows runs over it
  ;; (mk_f32) as one ungrouped block: per group costs nothing more.
  (func $widen_f32 (param $src i32) (param $s i32) (param $dst i32) (param $blocks i32) (param $groups i32) (param $cpg i32)
    (local $g i32) (local $c i32) (local $v v128) (local $lo v128) (local $hi v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (loop $block
      (local.set $g (local.get $groups))
      (loop $group
        (local.set $s0 (v128.load32_splat offset=0 (local.get $s)))
        (local.set $s1 (v128.load32_splat offset=4 (local.get $s)))
        (local.set $s2 (v128.load32_splat offset=8 (local.get $s)))
        (local.set $s3 (v128.load32_splat offset=12 (local.get $s)))
        (local.set $c (local.get $cpg))
        (loop $chunk
          (local.set $v (v128.load offset=0 (local.get $src)))
          (local.set $lo (i16x8.extend_low_i8x16_s (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_s (local.get $v)))
          (v128.store offset=0 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $s0)))
          (v128.store offset=64 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $s0)))
          (v128.store offset=128 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $s0)))
          (v128.store offset=192 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $s0)))
          (local.set $v (v128.load offset=16 (local.get $src)))
          (local.set $lo (i16x8.extend_low_i8x16_s (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_s (local.get $v)))
          (v128.store offset=16 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $s1)))
          (v128.store offset=80 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $s1)))
          (v128.store offset=144 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $s1)))
          (v128.store offset=208 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $s1)))
          (local.set $v (v128.load offset=32 (local.get $src)))
          (local.set $lo (i16x8.extend_low_i8x16_s (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_s (local.get $v)))
          (v128.store offset=32 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $s2)))
          (v128.store offset=96 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $s2)))
          (v128.store offset=160 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $s2)))
          (v128.store offset=224 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $s2)))
          (local.set $v (v128.load offset=48 (local.get $src)))
          (local.set $lo (i16x8.extend_low_i8x16_s (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_s (local.get $v)))
          (v128.store offset=48 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lo))) (local.get $s3)))
          (v128.store offset=112 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lo))) (local.get $s3)))
          (v128.store offset=176 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $hi))) (local.get $s3)))
          (v128.store offset=240 (local.get $dst) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $hi))) (local.get $s3)))
          (local.set $src (i32.add (local.get $src) (i32.const 64)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 256)))
          (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br_if $group (local.tee $g (i32.sub (local.get $g) (i32.const 1)))))
      (br_if $block (local.tee $blocks (i32.sub (local.get $blocks) (i32.const 1))))))

  ;; Widens n bytes of packed int8 blocks to int16 for W8A8 with four or more rows of x: each
  ;; 16-column chunk (rows 0..3 x 16 bytes) becomes columns 0-7 of rows 0..3, then columns 8-15 of
  ;; rows 0..3 (8 x 16 bytes), so mk_i8 steps through 64 contiguous bytes per 8 columns.
  (func $widen_i16 (param $src i32) (param $dst i32) (param $n i32)
    (local $v v128)
    (loop $l
      (local.set $v (v128.load offset=0 (local.get $src)))
      (v128.store offset=0 (local.get $dst) (i16x8.extend_low_i8x16_s (local.get $v)))
      (v128.store offset=64 (local.get $dst) (i16x8.extend_high_i8x16_s (local.get $v)))
      (local.set $v (v128.load offset=16 (local.get $src)))
      (v128.store offset=16 (local.get $dst) (i16x8.extend_low_i8x16_s (local.get $v)))
      (v128.store offset=80 (local.get $dst) (i16x8.extend_high_i8x16_s (local.get $v)))
      (local.set $v (v128.load offset=32 (local.get $src)))
      (v128.store offset=32 (local.get $dst) (i16x8.extend_low_i8x16_s (local.get $v)))
      (v128.store offset=96 (local.get $dst) (i16x8.extend_high_i8x16_s (local.get $v)))
      (local.set $v (v128.load offset=48 (local.get $src)))
      (v128.store offset=48 (local.get $dst) (i16x8.extend_low_i8x16_s (local.get $v)))
      (v128.store offset=112 (local.get $dst) (i16x8.extend_high_i8x16_s (local.get $v)))
      (local.set $src (i32.add (local.get $src) (i32.const 64)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 128)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 64))))))

  ;; Two float32 x rows times one widened (float32) 4-row weight block: 8 accumulators, each weight
  ;; vector load serves both x rows and each x vector load serves four weight rows. One step of 4
  ;; columns per loop iteration: with a whole 16-column chunk per iteration V8 hoisted all 24 loads
  ;; and spilled them to the stack (2 to 3x slower, measured). Writes out[t * os + 0..3] =
  ;; sums + bias[0..3] for t = 0, 1 (lanes = the block's rows). The skeleton calls it with one group
  ;; and scales of 1 (exact), the real scales being folded into the panel: the same loop without the
  ;; group loop and scale step ran 1.5x slower at 16x1024x1024 under V8 (Node 20, measured A/B).
  (func $mk_f32 (param $w i32) (param $s i32) (param $x i32) (param $xs i32) (param $groups i32) (param $cpg i32)
                (param $out i32) (param $os i32) (param $bias i32)
    (local $c i32) (local $x1 i32) (local $u v128) (local $v v128) (local $wv v128) (local $sv v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $t00 v128) (local $t01 v128) (local $t10 v128) (local $t11 v128) (local $t20 v128) (local $t21 v128) (local $t30 v128) (local $t31 v128)
    (local.set $x1 (i32.add (local.get $x) (local.get $xs)))
    (loop $group
      (local.set $a00 (v128.const i32x4 0 0 0 0))
      (local.set $a01 (v128.const i32x4 0 0 0 0))
      (local.set $a10 (v128.const i32x4 0 0 0 0))
      (local.set $a11 (v128.const i32x4 0 0 0 0))
      (local.set $a20 (v128.const i32x4 0 0 0 0))
      (local.set $a21 (v128.const i32x4 0 0 0 0))
      (local.set $a30 (v128.const i32x4 0 0 0 0))
      (local.set $a31 (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.shl (local.get $cpg) (i32.const 2)))
      (loop $chunk
        (local.set $u (v128.load (local.get $x)))
        (local.set $v (v128.load (local.get $x1)))
        (local.set $wv (v128.load offset=0 (local.get $w)))
        (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $wv) (local.get $u))))
        (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $wv) (local.get $v))))
        (local.set $wv (v128.load offset=16 (local.get $w)))
        (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $wv) (local.get $u))))
        (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $wv) (local.get $v))))
        (local.set $wv (v128.load offset=32 (local.get $w)))
        (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $wv) (local.get $u))))
        (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $wv) (local.get $v))))
        (local.set $wv (v128.load offset=48 (local.get $w)))
        (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $wv) (local.get $u))))
        (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $wv) (local.get $v))))
        (local.set $w (i32.add (local.get $w) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
        (br_if $chunk (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
      (local.set $sv (v128.load32_splat offset=0 (local.get $s)))
      (local.set $t00 (f32x4.add (local.get $t00) (f32x4.mul (local.get $a00) (local.get $sv))))
      (local.set $t01 (f32x4.add (local.get $t01) (f32x4.mul (local.get $a01) (local.get $sv))))
      (local.set $sv (v128.load32_splat offset=4 (local.get $s)))
      (local.set $t10 (f32x4.add (local.get $t10) (f32x4.mul (local.get $a10) (local.get $sv))))
      (local.set $t11 (f32x4.add (local.get $t11) (f32x4.mul (local.get $a11) (local.get $sv))))
      (local.set $sv (v128.load32_splat offset=8 (local.get $s)))
      (local.set $t20 (f32x4.add (local.get $t20) (f32x4.mul (local.get $a20) (local.get $sv))))
      (local.set $t21 (f32x4.add (local.get $t21) (f32x4.mul (local.get $a21) (local.get $sv))))
      (local.set $sv (v128.load32_splat offset=12 (local.get $s)))
      (local.set $t30 (f32x4.add (local.get $t30) (f32x4.mul (local.get $a30) (local.get $sv))))
      (local.set $t31 (f32x4.add (local.get $t31) (f32x4.mul (local.get $a31) (local.get $sv))))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.set $v (v128.load (local.get $bias)))
    (v128.store (local.get $out) (f32x4.add (local.get $v) (call $hsum_f32 (local.get $t00) (local.get $t10) (local.get $t20) (local.get $t30))))
    (v128.store (i32.add (local.get $out) (local.get $os)) (f32x4.add (local.get $v) (call $hsum_f32 (local.get $t01) (local.get $t11) (local.get $t21) (local.get $t31)))))

  ;; Four int16 x rows times two rows of a widened (int16) weight block, W8A8 / W8A16 (w, s and bias
  ;; point at the first of the two rows): one step of 8 columns per loop iteration, the two weight
  ;; vectors serving four x rows (a bigger loop body made V8 hoist and spill its loads). Per flush
  ;; run: exact int32 sums, then lane t of row r follows the reference:
  ;; total = total + fround(fround(acc) * fround(sx[t] * scale[r])).
  ;; Writes out[t * os + r] = total + bias[r].
  (func $mk_i8 (param $w i32) (param $s i32) (param $x i32) (param $xs i32) (param $xsc i32) (param $groups i32) (param $cpg i32) (param $flush i32)
                (param $out i32) (param $os i32) (param $bias i32)
    (local $c i32) (local $left i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $w0 v128) (local $w1 v128) (local $xv v128)
    (local $sx v128) (local $sxs0 v128) (local $sxs1 v128) (local $tot0 v128) (local $tot1 v128) (local $v v128) (local $hu v128) (local $hv v128)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128)
    (local $a10 v128) (local $a11 v128) (local $a12 v128) (local $a13 v128)
    (local.set $sx (v128.load (local.get $xsc)))
    (local.set $x1 (i32.add (local.get $x) (local.get $xs)))
    (local.set $x2 (i32.add (local.get $x1) (local.get $xs)))
    (local.set $x3 (i32.add (local.get $x2) (local.get $xs)))
    (loop $group
      (local.set $sxs0 (f32x4.mul (local.get $sx) (v128.load32_splat offset=0 (local.get $s))))
      (local.set $sxs1 (f32x4.mul (local.get $sx) (v128.load32_splat offset=4 (local.get $s))))
      (local.set $left (local.get $cpg))
      (loop $run
        (local.set $c (select (local.get $flush) (local.get $left) (i32.lt_u (local.get $flush) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (local.get $c)))
        (local.set $c (i32.shl (local.get $c) (i32.const 1)))
        (local.set $a00 (v128.const i32x4 0 0 0 0))
        (local.set $a01 (v128.const i32x4 0 0 0 0))
        (local.set $a02 (v128.const i32x4 0 0 0 0))
        (local.set $a03 (v128.const i32x4 0 0 0 0))
        (local.set $a10 (v128.const i32x4 0 0 0 0))
        (local.set $a11 (v128.const i32x4 0 0 0 0))
        (local.set $a12 (v128.const i32x4 0 0 0 0))
        (local.set $a13 (v128.const i32x4 0 0 0 0))
        (loop $step
          (local.set $w0 (v128.load offset=0 (local.get $w)))
          (local.set $w1 (v128.load offset=16 (local.get $w)))
          (local.set $xv (v128.load (local.get $x)))
          (local.set $a00 (i32x4.add (local.get $a00) (i32x4.dot_i16x8_s (local.get $w0) (local.get $xv))))
          (local.set $a10 (i32x4.add (local.get $a10) (i32x4.dot_i16x8_s (local.get $w1) (local.get $xv))))
          (local.set $xv (v128.load (local.get $x1)))
          (local.set $a01 (i32x4.add (local.get $a01) (i32x4.dot_i16x8_s (local.get $w0) (local.get $xv))))
          (local.set $a11 (i32x4.add (local.get $a11) (i32x4.dot_i16x8_s (local.get $w1) (local.get $xv))))
          (local.set $xv (v128.load (local.get $x2)))
          (local.set $a02 (i32x4.add (local.get $a02) (i32x4.dot_i16x8_s (local.get $w0) (local.get $xv))))
          (local.set $a12 (i32x4.add (local.get $a12) (i32x4.dot_i16x8_s (local.get $w1) (local.get $xv))))
          (local.set $xv (v128.load (local.get $x3)))
          (local.set $a03 (i32x4.add (local.get $a03) (i32x4.dot_i16x8_s (local.get $w0) (local.get $xv))))
          (local.set $a13 (i32x4.add (local.get $a13) (i32x4.dot_i16x8_s (local.get $w1) (local.get $xv))))
          (local.set $w (i32.add (local.get $w) (i32.const 64)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
          (local.set $x2 (i32.add (local.get $x2) (i32.const 16)))
          (local.set $x3 (i32.add (local.get $x3) (i32.const 16)))
          (br_if $step (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
        ;; $fold_i8 written out: a call here (four x rows, groups of 32) ran 1.4x slower under Node 20
        ;; and 1.2x under Node 24 (measured A/B, 16x1024x1024): V8 spills every live vector around it.
        (local.set $hu (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a00) (local.get $a01))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a00) (local.get $a01))))
        (local.set $hv (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a02) (local.get $a03))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a02) (local.get $a03))))
        (local.set $tot0 (f32x4.add (local.get $tot0) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $hu) (local.get $hv))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $hu) (local.get $hv)))) (local.get $sxs0))))
        (local.set $hu (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a10) (local.get $a11))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a10) (local.get $a11))))
        (local.set $hv (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a12) (local.get $a13))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a12) (local.get $a13))))
        (local.set $tot1 (f32x4.add (local.get $tot1) (f32x4.mul (f32x4.convert_i32x4_s (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $hu) (local.get $hv))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $hu) (local.get $hv)))) (local.get $sxs1))))
        (br_if $run (local.get $left)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $group (local.tee $groups (i32.sub (local.get $groups) (i32.const 1)))))
    (local.set $v (f32x4.add (local.get $tot0) (v128.load32_splat offset=0 (local.get $bias))))
    (f32.store offset=0 (local.get $out) (f32x4.extract_lane 0 (local.get $v)))
    (f32.store offset=0 (i32.add (local.get $out) (local.get $os)) (f32x4.extract_lane 1 (local.get $v)))
    (f32.store offset=0 (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 2))) (f32x4.extract_lane 2 (local.get $v)))
    (f32.store offset=0 (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v)))
    (local.set $v (f32x4.add (local.get $tot1) (v128.load32_splat offset=4 (local.get $bias))))
    (f32.store offset=4 (local.get $out) (f32x4.extract_lane 0 (local.get $v)))
    (f32.store offset=4 (i32.add (local.get $out) (local.get $os)) (f32x4.extract_lane 1 (local.get $v)))
    (f32.store offset=4 (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 2))) (f32x4.extract_lane 2 (local.get $v)))
    (f32.store offset=4 (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v))))

  ;; The one export, the one panel skeleton of both kinds of kernel:
  ;; out (m, 4 nb) = x (m, Kp) . W^T + bias, with op 1 = W8A32 (x float32; xsc and flush unused) or
  ;; op 2 = W8A8 / W8A16 (x int16 with per-row scales xsc (m); int32 flushes every `flush` chunks).
  ;; The relaxed builds add op 3 = W8A8 on x's 7-bit planes (blk1_r8, mk_r8: every row on the int8
  ;; panel, nothing widened) and op 4 = W8A16 on three 7-bit planes of x + 32768 (blk1_r16, mk_r16,
  ;; with each panel's sum w per row and run from wsum_r16 at scratch).
  ;; Row t of out is written at out + t * os (bytes): os = 16 nb for a whole weight; a call over a
  ;; slice of the row blocks (one thread's share) passes the stride of the whole output, so every
  ;; thread writes its columns of the one output buffer in place.
  ;;
  ;; Weight blocks are walked in panels of `panel` blocks. With `rows` or more x rows (2 for W8A32,
  ;; 4 for W8A8), each panel is first widened into scratch (float32 with its scales folded in by
  ;; widen_f32, after a vector of ones, or int16 by widen_i16; sized by the caller to stay in L2), then every `rows` x rows
  ;; run over it (mk_f32, mk_i8), so the int8 widening is paid once per weight, not once per row.
  ;; Remaining rows run on the int8 blocks: blk1 (W8A32), blk2_i8 on pairs of blocks then blk1_i8.
  (func (export "linear") (param $op i32) (param $w i32) (param $s i32) (param $x i32) (param $xsc i32) (param $out i32) (param $bias i32)
        (param $m i32) (param $nb i32) (param $groups i32) (param $cpg i32) (param $flush i32) (param $panel i32) (param $scratch i32) (param $os i32)
    (local $f32 i32) (local $pan i32) (local $wb i32) (local $pw i32) (local $sb i32) (local $xs i32) (local $rows i32)
    (local $p i32) (local $pend i32) (local $t i32) (local $b i32) (local $xt i32) (local $ot i32) (local $sx v128) (local $v v128)
    (local $ws i32) (local $swb i32) ;; op 4 (relaxed builds): this block's sum w, sum w bytes per block
    (local.set $f32 (i32.eq (local.get $op) (i32.const 1)))
    ;; bytes of one packed block, of one widened block (4 or 2 bytes per weight), of one block's
    ;; scales, and of one x row (float32 or int16 per padded column)
    (local.set $wb (i32.mul (i32.mul (local.get $groups) (local.get $cpg)) (i32.const 64)))
    (local.set $pw (i32.shl (local.get $wb) (select (i32.const 2) (i32.const 1) (local.get $f32))))
    (local.set $sb (i32.mul (local.get $groups) (i32.const 16)))
    (local.set $xs (i32.shr_u (local.get $wb) (select (i32.const 0) (i32.const 1) (local.get $f32))))
    (local.set $rows (select (i32.const 2) (i32.const 4) (local.get $f32)))
    ;; relaxed-only{ op 3: W8A8 on x's two 7-bit planes (2 kp bytes a row) through blk1_r8, every row on the int8 panel;
    ;; op 4: W8A16 on x's three planes (3 kp bytes a row), every row on the int8 panel, sum w per panel at scratch
    ;; ($swb bytes a block: 16 per group and flush run)
    (if (i32.ge_u (local.get $op) (i32.const 3)) (then (local.set $rows (i32.const 0x7fffffff))))
    (if (i32.eq (local.get $op) (i32.const 4)) (then
      (local.set $xs (i32.mul (i32.shr_u (local.get $wb) (i32.const 2)) (i32.const 3)))
      (local.set $swb (i32.shl (i32.mul (local.get $groups)
        (i32.div_u (i32.add (local.get $cpg) (i32.sub (local.get $flush) (i32.const 1))) (local.get $flush))) (i32.const 4)))))
    ;; }relaxed-only
    ;; the widened panel: after a vector of ones (mk_f32's scales) for W8A32, at scratch for W8A8
    (local.set $pan (i32.add (local.get $scratch) (select (i32.const 16) (i32.const 0) (local.get $f32))))
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $p) (local.get $nb)))
      (local.set $pend (i32.add (local.get $p) (local.get $panel)))
      (if (i32.gt_u (local.get $pend) (local.get $nb)) (then (local.set $pend (local.get $nb))))
      ;; relaxed-only{ op 4: the panel's sum w per weight row and flush run, at scratch
      (if (i32.eq (local.get $op) (i32.const 4)) (then
        (call $wsum_r16 (i32.add (local.get $w) (i32.mul (local.get $p) (local.get $wb))) (local.get $scratch)
          (i32.sub (local.get $pend) (local.get $p)) (local.get $groups) (local.get $cpg) (local.get $flush))))
      ;; }relaxed-only
      (local.set $t (i32.const 0))
      (if (i32.ge_u (local.get $m) (local.get $rows)) (then
        (if (local.get $f32)
          (then
            (v128.store (local.get $scratch) (v128.const f32x4 1 1 1 1))
            (call $widen_f32 (i32.add (local.get $w) (i32.mul (local.get $p) (local.get $wb)))
              (i32.add (local.get $s) (i32.mul (local.get $p) (local.get $sb)))
              (local.get $pan) (i32.sub (local.get $pend) (local.get $p)) (local.get $groups) (local.get $cpg)))
          (else (call $widen_i16 (i32.add (local.get $w) (i32.mul (local.get $p) (local.get $wb))) (local.get $scratch)
            (i32.mul (i32.sub (local.get $pend) (local.get $p)) (local.get $wb)))))
        (block $multi_done (loop $multi
          (br_if $multi_done (i32.gt_u (i32.add (local.get $t) (local.get $rows)) (local.get $m)))
          (local.set $xt (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $xs))))
          (local.set $ot (i32.add (local.get $out) (i32.mul (local.get $t) (local.get $os))))
          (local.set $b (local.get $p))
          (loop $pblocks
            (if (local.get $f32)
              (then (call $mk_f32
                (i32.add (local.get $pan) (i32.mul (i32.sub (local.get $b) (local.get $p)) (local.get $pw)))
                (local.get $scratch) (local.get $xt) (local.get $xs) (i32.const 1) (i32.mul (local.get $groups) (local.get $cpg))
                (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (local.get $os)
                (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16)))))
              (else
                (call $mk_i8
                  (i32.add (local.get $pan) (i32.mul (i32.sub (local.get $b) (local.get $p)) (local.get $pw)))
                  (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                  (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4)))
                  (local.get $groups) (local.get $cpg) (local.get $flush)
                  (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (local.get $os)
                  (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))
                (call $mk_i8 ;; rows 2, 3 of the block: 32 bytes into each widened chunk, 8 into scales and bias
                  (i32.add (i32.add (local.get $pan) (i32.mul (i32.sub (local.get $b) (local.get $p)) (local.get $pw))) (i32.const 32))
                  (i32.add (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb))) (i32.const 8))
                  (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4)))
                  (local.get $groups) (local.get $cpg) (local.get $flush)
                  (i32.add (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)) (local.get $os)
                  (i32.add (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)))))
            (br_if $pblocks (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $pend))))
          (local.set $t (i32.add (local.get $t) (local.get $rows)))
          (br $multi)))))
      (block $rows_done (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $t) (local.get $m)))
        (local.set $xt (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $xs))))
        (local.set $ot (i32.add (local.get $out) (i32.mul (local.get $t) (local.get $os))))
        (local.set $sx (v128.load32_splat (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4)))))
        (local.set $b (local.get $p))
        ;; relaxed-only{ three rows at a time on mk_r8 while there are three, then blk1_r8
        (if (i32.eq (local.get $op) (i32.const 3)) (then
          (if (i32.le_u (i32.add (local.get $t) (i32.const 3)) (local.get $m)) (then
            (loop $r8x3
              (call $mk_r8 (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4)))
                (local.get $groups) (local.get $cpg) (local.get $flush)
                (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (local.get $os)
                (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))
              (call $mk_r8 ;; rows 2, 3 of the block: 32 bytes into each int8 chunk, 8 into scales, out and bias
                (i32.add (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb))) (i32.const 32))
                (i32.add (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb))) (i32.const 8))
                (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4)))
                (local.get $groups) (local.get $cpg) (local.get $flush)
                (i32.add (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)) (local.get $os)
                (i32.add (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)))
              (br_if $r8x3 (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $pend))))
            (local.set $t (i32.add (local.get $t) (i32.const 2))))) ;; the rows loop adds the third
          (block $r8_done (loop $r8
            (br_if $r8_done (i32.ge_u (local.get $b) (local.get $pend)))
            (v128.store (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16)))
              (f32x4.add
                (call $blk1_r8
                  (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                  (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                  (local.get $xt) (local.get $groups) (local.get $cpg) (local.get $flush) (local.get $sx))
                (v128.load (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $r8)))))
        ;; }relaxed-only
        ;; relaxed-only{ op 4: two rows at a time on mk_r16 while there are two, then blk1_r16 (mk_r16 on rows 0, 1, then 2, 3 of a block)
        (if (i32.eq (local.get $op) (i32.const 4)) (then
          (if (i32.le_u (i32.add (local.get $t) (i32.const 2)) (local.get $m))
            (then
              (loop $r16x2
                (local.set $ws (i32.add (local.get $scratch) (i32.mul (i32.sub (local.get $b) (local.get $p)) (local.get $swb))))
                (call $mk_r16 (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                  (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                  (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4))) (local.get $ws)
                  (local.get $groups) (local.get $cpg) (local.get $flush)
                  (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (local.get $os)
                  (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))
                (call $mk_r16 ;; rows 2, 3 of the block: 32 bytes into each int8 chunk, 8 into scales, sums, out and bias
                  (i32.add (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb))) (i32.const 32))
                  (i32.add (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb))) (i32.const 8))
                  (local.get $xt) (local.get $xs) (i32.add (local.get $xsc) (i32.mul (local.get $t) (i32.const 4))) (i32.add (local.get $ws) (i32.const 8))
                  (local.get $groups) (local.get $cpg) (local.get $flush)
                  (i32.add (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)) (local.get $os)
                  (i32.add (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))) (i32.const 8)))
                (br_if $r16x2 (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $pend))))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))) ;; the rows loop adds the second
            (else
              (loop $r16
                (v128.store (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16)))
                  (f32x4.add
                    (call $blk1_r16 (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                      (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                      (local.get $xt) (i32.add (local.get $scratch) (i32.mul (i32.sub (local.get $b) (local.get $p)) (local.get $swb)))
                      (local.get $groups) (local.get $cpg) (local.get $flush) (local.get $sx))
                    (v128.load (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))))
                (br_if $r16 (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $pend))))))))
        ;; }relaxed-only
        (if (i32.eqz (local.get $f32)) (then
          (block $pairs_done (loop $pairs
            (br_if $pairs_done (i32.ge_u (i32.add (local.get $b) (i32.const 1)) (local.get $pend)))
            (call $blk2_i8
              (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb))) (local.get $wb)
              (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb))) (local.get $sb)
              (local.get $xt) (local.get $groups) (local.get $cpg) (local.get $flush) (local.get $sx))
            (local.set $v)
            (v128.store offset=16 (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16)))
              (f32x4.add (local.get $v) (v128.load offset=16 (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))))
            (local.set $v)
            (v128.store (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16)))
              (f32x4.add (local.get $v) (v128.load (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))))
            (local.set $b (i32.add (local.get $b) (i32.const 2)))
            (br $pairs)))))
        (block $blocks_done (loop $blocks
          (br_if $blocks_done (i32.ge_u (local.get $b) (local.get $pend)))
          (v128.store (i32.add (local.get $ot) (i32.mul (local.get $b) (i32.const 16)))
            (f32x4.add
              (if (result v128) (local.get $f32)
                (then (call $blk1
                  (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                  (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                  (local.get $xt) (local.get $groups) (local.get $cpg)))
                (else (call $blk1_i8
                  (i32.add (local.get $w) (i32.mul (local.get $b) (local.get $wb)))
                  (i32.add (local.get $s) (i32.mul (local.get $b) (local.get $sb)))
                  (local.get $xt) (local.get $groups) (local.get $cpg) (local.get $flush) (local.get $sx))))
              (v128.load (i32.add (local.get $bias) (i32.mul (local.get $b) (i32.const 16))))))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $blocks)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      (local.set $p (local.get $pend))
      (br $panels))))
)
