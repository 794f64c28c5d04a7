/* Runs the workgroups of one IREE CPU dispatch on torch's OpenMP team.
 *
 * Built once per machine by runtime/team.py with the system C compiler.  The dispatch
 * function is an export of the IREE executable library the kernel was compiled to
 * (iree/hal/local/executable_library.h, version 0.6); this file declares only the two
 * structs that ABI passes to it.  Nothing here links libgomp: the OpenMP entry points
 * are the ones torch loaded, handed over by tt_team_init, so the team is torch's own. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  uint32_t workgroup_size_x, workgroup_size_y;
  uint16_t workgroup_size_z, constant_count;
  uint32_t workgroup_count_x, workgroup_count_y;
  uint16_t workgroup_count_z;
  uint8_t max_concurrency, binding_count;
  const uint32_t* constants;
  void* const* binding_ptrs;
  const size_t* binding_lengths;
} dispatch_state_t;

typedef struct {
  uint32_t workgroup_id_x, workgroup_id_y;
  uint16_t workgroup_id_z, reserved;
  uint32_t processor_id;
  void* local_memory;
  uint32_t local_memory_size;
} workgroup_state_t;

typedef int (*dispatch_fn_t)(const void* environment, const dispatch_state_t* dispatch,
                             const workgroup_state_t* workgroup);

#define TT_MAX_CONSTANTS 64
#define TT_MAX_BINDINGS 32

/* One launch.  Python fills it (runtime/team.py, `JOB_LAYOUT` there mirrors it) and keeps it
 * alive; `dispatch` points at the arrays below. */
typedef struct {
  dispatch_fn_t fn;
  const void* environment;
  uint32_t local_bytes;   /* workgroup local memory the export asks for */
  uint32_t total;         /* workgroups in the grid */
  uint32_t next;          /* the next workgroup to hand out */
  int32_t status;         /* first nonzero dispatch result, or -1: no thread had the stack */
  dispatch_state_t dispatch;
  uint32_t constants[TT_MAX_CONSTANTS];
  void* binding_ptrs[TT_MAX_BINDINGS];
  size_t binding_lengths[TT_MAX_BINDINGS];
} job_t;

typedef void (*gomp_parallel_t)(void (*)(void*), void*, unsigned, unsigned);
static gomp_parallel_t g_parallel;
static int (*g_max_threads)(void);
static int (*g_thread_num)(void);
static size_t g_stack_need;
static __thread size_t t_stack_left_at_entry;   /* 0: not measured on this thread yet */

size_t tt_team_job_size(void) { return sizeof(job_t); }
size_t tt_team_dispatch_offset(void) { return offsetof(job_t, dispatch); }
size_t tt_team_constants_offset(void) { return offsetof(job_t, constants); }

void tt_team_init(gomp_parallel_t parallel, int (*max_threads)(void), int (*thread_num)(void),
                  size_t stack_need) {
  g_parallel = parallel;
  g_max_threads = max_threads;
  g_thread_num = thread_num;
  g_stack_need = stack_need;
}

/* Stack left below this frame; kernels may spill whole tiles, so a thread with a small stack
 * (OMP_STACKSIZE, ulimit -s) takes no workgroups rather than overflowing. */
static size_t stack_left(void) {
  if (t_stack_left_at_entry == 0) {
    pthread_attr_t attr;
    void* base = NULL;
    size_t size = 0;
    char here;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &base, &size);
      pthread_attr_destroy(&attr);
    }
    t_stack_left_at_entry = base ? (size_t)(&here - (char*)base) : 1;
  }
  return t_stack_left_at_entry;
}

static void run(void* arg) {
  job_t* job = (job_t*)arg;
  if (stack_left() < g_stack_need) return;
  const dispatch_state_t* d = &job->dispatch;
  const uint32_t gx = d->workgroup_count_x, gy = d->workgroup_count_y, total = job->total;
  const int threads = d->max_concurrency;
  /* a few chunks per thread: balanced, and one atomic per chunk rather than per workgroup
   * (contended atomics per 16 KB workgroup halved a two-thread ReLU) */
  uint32_t chunk = total / (uint32_t)(threads * 4);
  if (chunk == 0) chunk = 1;
  workgroup_state_t wg = {0};
  wg.processor_id = g_thread_num ? (uint32_t)g_thread_num() : 0;
  if (job->local_bytes) {
    wg.local_memory = malloc(job->local_bytes);
    if (!wg.local_memory) return;
    wg.local_memory_size = job->local_bytes;
  }
  for (;;) {
    uint32_t i = __atomic_fetch_add(&job->next, chunk, __ATOMIC_RELAXED);
    if (i >= total) break;
    uint32_t end = total - i < chunk ? total : i + chunk;
    for (; i < end; ++i) {
      wg.workgroup_id_x = i % gx;
      wg.workgroup_id_y = (i / gx) % gy;
      wg.workgroup_id_z = (uint16_t)(i / gx / gy);
      int r = job->fn(job->environment, d, &wg);
      if (r) __atomic_store_n(&job->status, r, __ATOMIC_RELAXED);
    }
  }
  free(wg.local_memory);
}

/* Runs every workgroup of `job`; returns 0, a dispatch's nonzero result, or -1 when no thread
 * had the stack to run one (the caller then launches through IREE's runtime instead). */
int tt_team_launch(job_t* job) {
  job->next = 0;
  job->status = 0;
  unsigned threads = g_max_threads ? (unsigned)g_max_threads() : 1;
  if (threads > job->total) threads = job->total;
  if (threads > 255) threads = 255;
  if (threads < 1) threads = 1;
  job->dispatch.max_concurrency = (uint8_t)threads;
  if (threads == 1 || !g_parallel)
    run(job);
  else
    g_parallel(run, job, threads, 0);
  if (job->status == 0 && __atomic_load_n(&job->next, __ATOMIC_RELAXED) < job->total) return -1;
  return job->status;
}
