//! The Confluent wire decoding against inputs the fuzzer found (`fuzz/`, target `avro`): bytes a consumer cannot
//! use are an error, never a panic or an allocation out of proportion to the record.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use topology::records::{schema, RECORD_NAMES};
use topology::registry::{decode_body, split_wire, MAX_VALUE_BYTES};

/// Remembers the largest single allocation: what a length claimed by the input drives.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Schema id 256, a 16-byte id, then a string whose length prefix (`d2 d2 d2 d2 03`) claims 489,313,449 bytes:
/// apache-avro allocated all of them before finding 13 left (the fuzzer's oom-16063047a47ac052).
const CLAIMS_489_MB: [u8; 39] = [
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xda, 0xff, 0x01, 0xff, 0xff, 0xd2, 0xd2, 0xd2, 0xd2, 0xd2, 0xd2, 0xd2,
    0xd2, 0xd2, 0xd2, 0xd2, 0xd2, 0xd2, 0x03, 0xed, 0x07, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0xb0, 0xfe, 0xfa, 0xfa,
    0x00,
];

// The only test in this binary: the allocator's record is shared by every thread.
#[test]
fn a_record_claiming_a_huge_string_is_an_error_without_allocating_it() {
    let (id, body) = split_wire(&CLAIMS_489_MB).expect("the wire header is well formed");
    assert_eq!(id, 256);
    for name in RECORD_NAMES {
        let schema = schema(name).expect("every bank record has a schema");
        LARGEST.store(0, Ordering::Relaxed);
        let result = decode_body(name, &schema, body);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(result.is_err(), "{name}: {result:?}");
        assert!(
            largest <= MAX_VALUE_BYTES,
            "{name}: one allocation of {largest} bytes decoding a {}-byte body",
            body.len()
        );
    }
}
