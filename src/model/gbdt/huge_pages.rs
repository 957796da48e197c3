//! Large read-mostly tables on huge pages. TreeSHAP's cell tables (about 20 MB) are read at
//! random, a few dozen cache lines per `Score` call; on 4 KiB pages nearly every read also
//! misses the TLB, and under a VM's nested paging a page walk is dear. Linux backs a range with
//! 2 MiB pages when asked (`madvise(MADV_HUGEPAGE)`, transparent huge pages in `madvise` or
//! `always` mode); elsewhere, or when the kernel declines, the table works the same on small
//! pages.

/// `values`, copied into a buffer the kernel is asked to back with huge pages before it is
/// first touched.
pub fn copied_to_huge_pages<T: Copy>(values: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    advise(out.as_mut_ptr().cast(), std::mem::size_of_val(values));
    out.extend_from_slice(values);
    out
}

/// Asks for huge pages over the whole small pages inside `[ptr, ptr + bytes)`; failures are
/// ignored (the range stays on small pages).
#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, bytes: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize).saturating_add(bytes) & !(PAGE - 1);
    if end > start {
        // SAFETY: `[start, end)` lies inside an allocation the caller owns (a `Vec`'s capacity)
        // and aligned to pages; `MADV_HUGEPAGE` changes only how the kernel backs the range,
        // never what it holds or who may use it.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _bytes: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_the_same_values() {
        for n in [0, 1, 511, 4 << 18] {
            let values: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
            assert_eq!(copied_to_huge_pages(&values), values);
        }
    }
}
