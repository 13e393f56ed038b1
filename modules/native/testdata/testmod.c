/*
 * The test module of package native's tests, built by them with cc. Macros
 * make its versions: VERSION (what its hooks answer), STATE_VERSION, ABI,
 * MODNAME, NOT_SINGLETON, NO_ENTRY (no entry symbol), REGISTER_UNBOUND (also
 * register a hook that has no native adapter).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ecelerity_module.h"

#ifndef VERSION
#define VERSION 1
#endif
#ifndef STATE_VERSION
#define STATE_VERSION 1
#endif
#ifndef ABI
#define ABI EC_MODULE_ABI_VERSION
#endif
#ifndef MODNAME
#define MODNAME "testmod"
#endif
#ifdef NOT_SINGLETON
#define SINGLETON 0
#else
#define SINGLETON 1
#endif

static const ec_host_api *host;
static ec_ctx self;
static int opt_mode, opt_count, opt_loud, mt_state, mt_blob;
static void *blob;

struct state {
	uint32_t created_by;   /* VERSION of the code that created the state */
	uint32_t migrated;     /* migration steps run on it */
	uint64_t calls;
};
static struct state *st;

static ec_word version(void *closure) { (void)closure; return VERSION; }

static ec_word add(void *closure, ec_word a, ec_word b) {
	(void)closure;
	st->calls++;
	return a + b + VERSION * 1000;
}

/* Says it entered on wfd, then blocks until a byte arrives on rfd: the test
 * holds a call in flight. */
static ec_word block(void *closure, ec_word rfd, ec_word wfd) {
	char c = 'x';
	(void)closure;
	if (write((int)wfd, &c, 1) != 1 || read((int)rfd, &c, 1) != 1)
		return (ec_word)-1;
	return VERSION;
}

static ec_word greet(void *closure, ec_handle who, const char *prefix) {
	char name[64];
	int64_t n = 0;
	(void)closure;
	if (host->handle_string(who, "name", name, sizeof name) < 0)
		return (ec_word)-1;
	if (host->handle_int(who, "n", &n) != EC_OK)
		return (ec_word)-2;
	if (host->handle_int(who, "nope", &n) != EC_ENOENT)
		return (ec_word)-3;
	return strlen(prefix) * 100 + strlen(name) + (ec_word)n * 10000;
}

ec_word bench_entry(void *closure, ec_word x) { (void)closure; return x + 1; }

static int register_hooks(ec_ctx ctx) {
	if (host->hook_register(ctx, "nativetest.version", EC_HOOK_FIRST, (ec_hook_fn)version, NULL) != EC_OK ||
	    host->hook_register(ctx, "nativetest.add", EC_HOOK_LAST, (ec_hook_fn)add, NULL) != EC_OK ||
	    host->hook_register(ctx, "nativetest.block", EC_HOOK_LAST, (ec_hook_fn)block, NULL) != EC_OK ||
	    host->hook_register(ctx, "nativetest.greet", EC_HOOK_LAST, (ec_hook_fn)greet, NULL) != EC_OK ||
	    host->hook_register(ctx, "nativetest.bench", EC_HOOK_LAST, (ec_hook_fn)bench_entry, NULL) != EC_OK)
		return -1;
#ifdef REGISTER_UNBOUND
	if (host->hook_register(ctx, "nativetest.unbound", EC_HOOK_LAST, (ec_hook_fn)version, NULL) != EC_OK)
		return -1;
#endif
	return 0;
}

static int conf_setup(ec_ctx ctx, void *state, uint32_t state_version) {
	self = ctx;
	opt_mode = host->option_register(ctx, "mode", EC_OPT_STRING, "plain");
	opt_count = host->option_register(ctx, "count", EC_OPT_INT, "3");
	opt_loud = host->option_register(ctx, "loud", EC_OPT_BOOL, NULL);
	mt_state = host->memtype_register(ctx, MODNAME ":state", sizeof(struct state));
	mt_blob = host->memtype_register(ctx, MODNAME ":blob", 0);
	if (opt_mode < 0 || opt_count < 0 || opt_loud < 0 || mt_state < 0 || mt_blob < 0)
		return -1;
	if (state != NULL) {
		if (state_version != STATE_VERSION)
			return -2;
		st = state;
	} else {
		st = host->mem_alloc(ctx, mt_state, 0);
		if (st == NULL)
			return -3;
		memset(st, 0, sizeof *st);
		st->created_by = VERSION;
		if (host->state_set(ctx, st) != EC_OK)
			return -4;
	}
	host->log(ctx, EC_LOG_INFO, "testmod set up");
	return SINGLETON ? register_hooks(ctx) : 0;
}

static int migrate(ec_ctx ctx, void **state, uint32_t from) {
	struct state *old = *state, *n;
	/* migrate runs before conf_setup: look the memory type up first. */
	mt_state = host->memtype_register(ctx, MODNAME ":state", sizeof(struct state));
	n = mt_state > 0 ? host->mem_alloc(ctx, mt_state, 0) : NULL;
	if (n == NULL)
		return -1;
	*n = *old; /* the old version keeps its copy */
	n->migrated++;
	*state = n;
	(void)from;
	return 0;
}

static int ext_init(ec_ctx ctx, int mode, int privileged) {
	(void)privileged;
	if (mode == EC_INIT && !SINGLETON)
		return register_hooks(ctx);
	return 0;
}

static int job_work(void *arg) { (void)arg; return 7; }

static void job_done(void *arg, int result) {
	char msg[64];
	(void)arg;
	snprintf(msg, sizeof msg, "job done %d", result);
	host->log(self, EC_LOG_INFO, msg);
}

static int block_work(void *arg) {
	char c;
	return read((int)(ec_word)arg, &c, 1) == 1 ? 0 : 1;
}

static void fired(void *arg) { (void)arg; host->log(self, EC_LOG_INFO, "timer fired"); }

static int control(ec_ctx ctx, int argc, const char *const *argv, ec_reply reply) {
	char buf[256], mode[64];
	int64_t count = 0, loud = 0;
	if (argc < 1)
		return host->reply_write(reply, "usage"), 1;
	if (strcmp(argv[0], "version") == 0) {
		snprintf(buf, sizeof buf, "v=%d state_version=%d created_by=%u migrated=%u", VERSION, STATE_VERSION,
			 st->created_by, st->migrated);
	} else if (strcmp(argv[0], "opts") == 0) {
		if (host->option_string(ctx, opt_mode, mode, sizeof mode) < 0 || host->option_int(ctx, opt_count, &count) ||
		    host->option_int(ctx, opt_loud, &loud))
			return 2;
		snprintf(buf, sizeof buf, "mode=%s count=%lld loud=%lld", mode, (long long)count, (long long)loud);
	} else if (strcmp(argv[0], "alloc") == 0) {
		blob = host->mem_alloc(ctx, mt_blob, 100);
		snprintf(buf, sizeof buf, "%s", blob ? "ok" : "failed");
	} else if (strcmp(argv[0], "free") == 0) {
		snprintf(buf, sizeof buf, "%d", host->mem_free(ctx, mt_blob, blob));
	} else if (strcmp(argv[0], "job") == 0) {
		snprintf(buf, sizeof buf, "%d", host->job_queue(ctx, NULL, job_work, job_done, NULL));
	} else if (strcmp(argv[0], "blockjob") == 0 && argc == 2) {
		snprintf(buf, sizeof buf, "%d", host->job_queue(ctx, "IO", block_work, NULL, (void *)(ec_word)atoi(argv[1])));
	} else if (strcmp(argv[0], "timer") == 0) {
		snprintf(buf, sizeof buf, "%d", host->timer_after(ctx, 1, fired, NULL));
	} else if (strcmp(argv[0], "badopt") == 0) {
		snprintf(buf, sizeof buf, "%d", host->option_int(ctx, 99, &count));
	} else {
		host->reply_write(reply, "unknown command");
		return 1;
	}
	host->reply_write(reply, buf);
	return 0;
}

static const ec_module_info info = {
	ABI, STATE_VERSION, MODNAME, "native test module", SINGLETON, 0, conf_setup, ext_init, control, migrate,
};

#ifndef NO_ENTRY
const ec_module_info *ec_module_entry(const ec_host_api *h, uint32_t host_abi) {
	if (host_abi < EC_MODULE_ABI_VERSION)
		return NULL;
	host = h;
	return &info;
}
#endif

/* cmod functions. */
int echo(const ec_cmod_args *a) {
	for (int i = 0; i < a->argc; i++)
		a->host->reply_write(a->reply, a->argv[i]);
	return 0;
}

int whoami(const ec_cmod_args *a) {
	char buf[32];
	snprintf(buf, sizeof buf, "v%d", VERSION);
	a->host->reply_write(a->reply, buf);
	return 0;
}

int fail(const ec_cmod_args *a) {
	a->host->reply_write(a->reply, "it went wrong");
	return 3;
}
