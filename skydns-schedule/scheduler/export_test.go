package scheduler

// Pick is pick, for the stack tests of package scheduler_test.
var Pick = pick
