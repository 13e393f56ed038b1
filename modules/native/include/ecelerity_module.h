/*
 * ecelerity_module.h - the C ABI of ecelerity native modules.
 *
 * A native module is a shared object X.so installed beside its manifest X.ecm
 * in the daemon's libexec path. It includes this header only and exports one
 * symbol:
 *
 *     const ec_module_info *ec_module_entry(const ec_host_api *host,
 *                                           uint32_t host_abi);
 *
 * The host calls it once per load with its table of host functions and its
 * ABI version; the module keeps the table pointer and returns its description
 * (static storage in the library). The host refuses a module whose
 * info->abi_version it does not know, naming both versions; a module that
 * needs a newer host may return NULL after comparing host_abi.
 *
 * Threads: the host calls the module's functions on its own threads, and the
 * module may call host functions only while it is inside such a call (or from
 * a thread-pool job or timer the host runs for it). Do not call the host from
 * threads of your own.
 *
 * Reload: every load opens a private copy of the library, so a rebuilt X.so
 * loads as a new version beside the old one, which keeps running until no
 * configuration generation, call, job or timer holds it. Static data is per
 * version. What must survive a reload is the persistent state: an opaque
 * pointer (allocate it with mem_alloc, never in the library's static data)
 * and the info->state_version it has. See conf_setup and migrate.
 *
 * Errors: host functions return EC_OK (0) or a negative EC_E* code; the host
 * logs the detailed reason and adds it to the error of the load or reload
 * that fails.
 */
#ifndef ECELERITY_MODULE_H
#define ECELERITY_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define EC_MODULE_ABI_VERSION 1u

/* The entry symbol's name. */
#define EC_MODULE_ENTRY "ec_module_entry"

/* Results of host functions. */
#define EC_OK 0
#define EC_EINVAL (-1)   /* bad argument: NULL, unknown id, wrong type */
#define EC_ENOENT (-2)   /* no such hook, option, memory type or pool */
#define EC_ENOTSUP (-3)  /* not possible here: no native adapter, wrong phase */
#define EC_ENOMEM (-4)   /* allocation failed */
#define EC_EEXIST (-5)   /* registered already with another definition */
#define EC_ERANGE (-6)   /* the value does not fit the buffer */

/* Hook positions. */
#define EC_HOOK_FIRST 0
#define EC_HOOK_LAST 1

/* Option types. */
#define EC_OPT_STRING 1
#define EC_OPT_INT 2
#define EC_OPT_BOOL 3

/* ext_init modes. */
#define EC_INIT 0
#define EC_POST_INIT 1
#define EC_DESTROY 2

/* Log levels (the panic log's). */
#define EC_LOG_DEBUG 0
#define EC_LOG_INFO 1
#define EC_LOG_WARNING 2
#define EC_LOG_ERROR 3

/* One machine word: how hook arguments and results travel. */
typedef uintptr_t ec_word;

/*
 * A host context: which module, version, configuration generation and
 * instance a call is for. The context passed to conf_setup stays valid for
 * the life of the version (keep it for hook providers, jobs and timers); the
 * ones passed to ext_init and control are valid during the call only.
 */
typedef ec_word ec_ctx;

/* A control-command reply or a cmod call's results; valid during the call. */
typedef ec_word ec_reply;

/*
 * An opaque handle to a host object passed to a hook provider; read it with
 * handle_int and handle_string during the provider call only.
 */
typedef ec_word ec_handle;

/*
 * A hook provider, cast to this generic type for hook_register. Its real
 * signature is ec_word fn(void *closure, <arguments>): closure is what the
 * module passed to hook_register; the arguments follow as the hook's native
 * binding says (scalars as words, strings as NUL-terminated char pointers
 * valid during the call, objects as ec_handle). The result is the hook's
 * value (ignored for void hooks).
 */
typedef void (*ec_hook_fn)(void);

/* A thread-pool job's work (in a worker thread) and completion. */
typedef int (*ec_job_fn)(void *arg);
typedef void (*ec_job_done_fn)(void *arg, int result);

/* A timed event; runs on the master event loop and must not block. */
typedef void (*ec_timer_fn)(void *arg);

/* The host's functions, in a fixed order. Newer ABIs only append. */
typedef struct ec_host_api {
	uint32_t abi_version; /* EC_MODULE_ABI_VERSION of the host */
	uint32_t size;        /* sizeof(ec_host_api) of the host */

	/* Writes msg to the panic log at level, tagged with the module. */
	void (*log)(ec_ctx ctx, int level, const char *msg);

	/*
	 * Registers fn with closure as a provider of hook ("scope.name"), first
	 * or last. From conf_setup (singleton modules: the provider is registered
	 * in every generation this version serves) or from ext_init(EC_INIT)
	 * (registered in that generation). A hook without a native adapter is
	 * refused with EC_ENOTSUP.
	 */
	int (*hook_register)(ec_ctx ctx, const char *hook, int position, ec_hook_fn fn, void *closure);

	/*
	 * Defines option name of type EC_OPT_* in the module's own scope, with a
	 * default in configuration syntax (NULL: the type's zero). Returns the
	 * option's id (> 0) or an error. conf_setup only. A reloaded version gets
	 * the same id for the same name and type; a new option needs a restart.
	 */
	int (*option_register)(ec_ctx ctx, const char *name, int type, const char *def);

	/* Fetches an EC_OPT_INT or EC_OPT_BOOL option of the ctx's instance. */
	int (*option_int)(ec_ctx ctx, int option, int64_t *out);

	/*
	 * Fetches an EC_OPT_STRING option into buf (NUL-terminated, truncated).
	 * Returns the value's length, like snprintf, or an error.
	 */
	int (*option_string)(ec_ctx ctx, int option, char *buf, size_t len);

	/*
	 * Registers memory type name ("module:what") of object size size (0:
	 * variable). Returns its id (> 0). conf_setup and migrate only; a
	 * reloaded version gets the same id back for the same name and size.
	 */
	int (*memtype_register)(ec_ctx ctx, const char *name, size_t size);

	/* Allocates size bytes (0: the type's size) of memory type id; NULL on failure. */
	void *(*mem_alloc)(ec_ctx ctx, int memtype, size_t size);

	/* Frees p, which mem_alloc of the same type returned. */
	int (*mem_free)(ec_ctx ctx, int memtype, void *p);

	/*
	 * Appends text to a reply. For control commands the text is the reply;
	 * for cmod calls every call adds one result value.
	 */
	int (*reply_write)(ec_reply reply, const char *text);

	/*
	 * Queues work(arg) in the thread pool named pool (NULL: "CPU"); then
	 * done(arg, result) runs on the master loop (in the worker when the host
	 * runs without one). done may be NULL.
	 */
	int (*job_queue)(ec_ctx ctx, const char *pool, ec_job_fn work, ec_job_done_fn done, void *arg);

	/* Runs fn(arg) once on the master loop after millis milliseconds. */
	int (*timer_after)(ec_ctx ctx, int64_t millis, ec_timer_fn fn, void *arg);

	/* Reads the integer field of a handle passed to a hook provider. */
	int (*handle_int)(ec_handle h, const char *field, int64_t *out);

	/* Reads a string field of a handle into buf; returns its length or an error. */
	int (*handle_string)(ec_handle h, const char *field, char *buf, size_t len);

	/*
	 * Sets the module's persistent state (kept across reloads with
	 * info->state_version). conf_setup and migrate only.
	 */
	int (*state_set)(ec_ctx ctx, void *state);
} ec_host_api;

/* What a module is; static storage in the library. */
typedef struct ec_module_info {
	uint32_t abi_version;   /* EC_MODULE_ABI_VERSION the module was built with */
	uint32_t state_version; /* version of the persistent state this code keeps */
	const char *name;       /* must equal the .ecm section name (any case) */
	const char *description;
	uint32_t singleton; /* nonzero: one instance, anonymous stanza */
	uint32_t reserved;  /* 0 */

	/*
	 * Once per version, before any ext_init: register options, memory types
	 * and (singletons) hooks. state is the persistent state, already migrated
	 * to this code's state_version (NULL and 0 on the first load). Nonzero
	 * fails the load or reload; the previous version keeps running.
	 */
	int (*conf_setup)(ec_ctx ctx, void *state, uint32_t state_version);

	/*
	 * For every instance of every configuration generation: EC_INIT, then
	 * EC_POST_INIT, and EC_DESTROY when the generation is gone. privileged
	 * is nonzero at start-up only. May be NULL.
	 */
	int (*ext_init)(ec_ctx ctx, int mode, int privileged);

	/*
	 * A console command "name args...": argv holds the args (argv[0] is the
	 * first word after the module name). Write the reply with reply_write.
	 * Nonzero marks the reply as an error. May be NULL.
	 */
	int (*control)(ec_ctx ctx, int argc, const char *const *argv, ec_reply reply);

	/*
	 * Migrates the persistent state one step, from from_version to
	 * from_version + 1, by putting the migrated state in *state. The host
	 * calls it for every step up to state_version, logging each, before
	 * conf_setup (so register the memory types it allocates from first:
	 * memtype_register returns the id the type already has). The old version
	 * may still run until its generations retire, and keeps running if the
	 * reload fails: do not change or free the old state here. Nonzero fails
	 * the reload. May be NULL while state_version is 1.
	 */
	int (*migrate)(ec_ctx ctx, void **state, uint32_t from_version);
} ec_module_info;

/* The entry point every module exports. */
const ec_module_info *ec_module_entry(const ec_host_api *host, uint32_t host_abi);

/*
 * cmod functions: a library loaded from Lua with msys.cmod.load(path) needs no
 * entry point. Each function called from Lua has this signature: argv holds
 * the Lua arguments as strings; every reply_write adds a result; a nonzero
 * return makes the Lua call return nil and an error.
 */
typedef struct ec_cmod_args {
	const ec_host_api *host;
	ec_ctx ctx;
	int argc;
	int reserved;
	const char *const *argv;
	ec_reply reply;
} ec_cmod_args;

typedef int (*ec_cmod_fn)(const ec_cmod_args *args);

#ifdef __cplusplus
}
#endif

#endif /* ECELERITY_MODULE_H */
