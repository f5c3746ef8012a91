#pragma once
// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
// Under clang with -Wthread-safety the compiler checks that a member marked
// CW_GUARDED_BY(mu_) is touched only with mu_ held, and that a function marked
// CW_REQUIRES(mu_) is called only with it held. Other compilers see no-ops. The clang build
// (the fuzz preset) turns the warnings into errors; see docs/development.md.
//
// Use them with common::Mutex (common/mutex.h): libstdc++'s std::mutex is not annotated, so
// the analysis cannot see it being locked.

#if defined(__clang__)
#define CW_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CW_THREAD_ANNOTATION(x)
#endif

// A class that is a lock (common::Mutex).
#define CW_CAPABILITY(name) CW_THREAD_ANNOTATION(capability(name))
// An RAII class that holds a lock for its lifetime (common::MutexLock).
#define CW_SCOPED_CAPABILITY CW_THREAD_ANNOTATION(scoped_lockable)

// The member may be read or written only with the given lock held.
#define CW_GUARDED_BY(mu) CW_THREAD_ANNOTATION(guarded_by(mu))
// What the pointer points to may be touched only with the given lock held.
#define CW_PT_GUARDED_BY(mu) CW_THREAD_ANNOTATION(pt_guarded_by(mu))

// The caller must hold (CW_REQUIRES) or must not hold (CW_EXCLUDES) the given locks.
#define CW_REQUIRES(...) CW_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define CW_EXCLUDES(...) CW_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function takes (CW_ACQUIRE) or lets go of (CW_RELEASE) the given locks; with no
// argument, the object it is called on.
#define CW_ACQUIRE(...) CW_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define CW_RELEASE(...) CW_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CW_TRY_ACQUIRE(...) CW_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// Shared (reader) acquisition of a SharedMutex.
#define CW_ACQUIRE_SHARED(...) CW_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define CW_RELEASE_SHARED(...) CW_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))

// The function returns a reference to the given lock.
#define CW_RETURN_CAPABILITY(x) CW_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function: only where it cannot follow the locking (a
// condition variable that unlocks and relocks inside the standard library), with a comment.
#define CW_NO_THREAD_SAFETY_ANALYSIS CW_THREAD_ANNOTATION(no_thread_safety_analysis)
