! fortran/nde.f90 — the Fortran 2003 module `nde`: an iso_c_binding interface to libnde.
!
! Every wrapper is an integer function returning the library's status (NDE_OK = 0); on a
! failure nde_last_error() returns the library's message as a Fortran string. Handles
! (nde_ctx, nde_model, nde_solver, nde_optim, nde_trainer) are derived types holding the
! C pointer; they start null and the _destroy routines set them back to null.
!
! Arrays keep the C memory layout: a C array (batch, size) in row-major order is the
! Fortran array x(size, batch), so one sample is one column; a trajectory (nt, batch, dim)
! is traj(dim, batch, nt).
!
! Model, solver, optimizer and trainer specs are passed as plain scalars (optional
! arguments; an absent one keeps the library default) through the small C helpers of
! fortran/nde_fortran.c. docs/fortran.md documents every routine.
module nde
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int32, int64
  implicit none
  private

  ! ---- status codes (nde_status, include/nde/core.h) ----
  integer, parameter, public :: NDE_OK = 0, NDE_ERR_ARG = 1, NDE_ERR_NOMEM = 2, &
    NDE_ERR_SHAPE = 3, NDE_ERR_NONFINITE = 4, NDE_ERR_MAX_STEPS = 5, NDE_ERR_DT_MIN = 6, &
    NDE_ERR_STATE = 7, NDE_ERR_IO = 8, NDE_ERR_FORMAT = 9, NDE_ERR_SOLVER = 10, &
    NDE_ERR_UNSUPPORTED = 11, NDE_ERR_STOPPED = 12, NDE_ERR_MISSING = 13, NDE_ERR_LIMIT = 14
  ! ---- ODE methods (nde_method, nde/ode.h) ----
  integer, parameter, public :: NDE_EULER = 0, NDE_HEUN = 1, NDE_RK4 = 2, NDE_BS3 = 3, &
    NDE_DOPRI5 = 4, NDE_TSIT5 = 5, NDE_CVODE_BDF = 6, NDE_CVODE_ADAMS = 7, NDE_ARK_ERK = 8, &
    NDE_ARK_DIRK = 9, NDE_ARK_IMEX = 10
  ! ---- solver tapes (nde_tape) ----
  integer, parameter, public :: NDE_TAPE_NONE = 0, NDE_TAPE_STAGES = 1, &
    NDE_TAPE_STEP_STARTS = 2, NDE_TAPE_CHECKPOINT = 3
  ! ---- adjoint kinds (nde_adjoint_kind, nde/adjoint.h) ----
  integer, parameter, public :: NDE_ADJ_DISCRETE_STAGES = 0, NDE_ADJ_DISCRETE_STEP_STARTS = 1, &
    NDE_ADJ_DISCRETE_CHECKPOINT = 2, NDE_ADJ_BACKSOLVE = 3, NDE_ADJ_INTERPOLATING = 4, &
    NDE_ADJ_CVODES = 5
  ! ---- activations (nde_act) and initializers (nde_init), nde/nn.h ----
  integer, parameter, public :: NDE_ACT_IDENTITY = 0, NDE_ACT_TANH = 1, NDE_ACT_SIGMOID = 2, &
    NDE_ACT_RELU = 3, NDE_ACT_GELU = 4, NDE_ACT_SOFTPLUS = 5, NDE_ACT_SWISH = 6
  integer, parameter, public :: NDE_INIT_TORCH = 0, NDE_INIT_XAVIER_UNIFORM = 1, &
    NDE_INIT_XAVIER_NORMAL = 2, NDE_INIT_NORMAL = 3
  integer, parameter, public :: NDE_TIME_NONE = 0, NDE_TIME_FIRST = 1, NDE_TIME_ALL = 2
  ! ---- neural ODE output (nde_node_output) ----
  integer, parameter, public :: NDE_NODE_TRAJECTORY = 0, NDE_NODE_FINAL = 1
  ! ---- optimizers (nde_optim_kind, nde/optim.h) ----
  integer, parameter, public :: NDE_OPT_SGD = 0, NDE_OPT_RMSPROP = 1, NDE_OPT_ADAM = 2, &
    NDE_OPT_ADAMW = 3, NDE_OPT_ADAMAX = 4, NDE_OPT_NADAMW = 5, NDE_OPT_LION = 6, &
    NDE_OPT_ADAN = 7, NDE_OPT_ADABELIEF = 8, NDE_OPT_NADAM = 9
  ! ---- trainer sampling (nde_sampling, nde/trainer.h) and losses ----
  integer, parameter, public :: NDE_SAMPLE_SHUFFLE = 0, NDE_SAMPLE_RESHUFFLE = 1, &
    NDE_SAMPLE_ORDERED = 2, NDE_SAMPLE_RANDOM = 3, NDE_SAMPLE_STREAM = 4
  integer, parameter, public :: NDE_LOSS_MSE = 0, NDE_LOSS_L1 = 1, NDE_LOSS_REL_L2 = 2

  ! ---- handles ----
  type, public :: nde_ctx
    type(c_ptr) :: p = c_null_ptr
  end type
  type, public :: nde_model
    type(c_ptr) :: p = c_null_ptr
  end type
  type, public :: nde_solver
    type(c_ptr) :: p = c_null_ptr
  end type
  type, public :: nde_optim
    type(c_ptr) :: p = c_null_ptr
  end type
  type, public :: nde_trainer
    type(c_ptr) :: p = c_null_ptr
  end type

  !> Trainer options: mirrors ndef_train_opts (fortran/nde_fortran.h) field by field.
  !> Get the defaults from nde_train_defaults(), then change fields.
  type, bind(C), public :: nde_train_options
    integer(c_int64_t) :: batch, epochs, steps_per_epoch, max_steps, sampling, drop_last, seed
    integer(c_int64_t) :: optim_kind
    real(c_double) :: lr, weight_decay
    integer(c_int64_t) :: loss, metric
    real(c_double) :: clip_grad_norm
    integer(c_int64_t) :: eval_every, eval_batch, checkpoint_every, progress
    integer(c_int64_t) :: sched_step_period
    real(c_double) :: sched_gamma
  end type

  !> One accepted step of the step log (nde_step_rec).
  type, bind(C), public :: nde_step_rec
    real(c_double) :: t, h, err_est, stiff_est
  end type

  public :: nde_last_error, nde_status_string
  public :: nde_ctx_create, nde_ctx_destroy
  public :: nde_model_mlp_create, nde_model_fno_create, nde_model_node_create
  public :: nde_model_init, nde_model_destroy, nde_model_n_params, nde_model_in_size, &
    nde_model_out_size, nde_model_set_training
  public :: nde_get_params, nde_set_params, nde_get_grad, nde_set_grad, nde_zero_grad, &
    nde_theta, nde_grad
  public :: nde_model_forward, nde_model_backward
  public :: nde_checkpoint_load, nde_checkpoint_save
  public :: nde_solver_create, nde_solver_destroy, nde_solve, nde_solver_step_log, &
    nde_solver_counts
  public :: nde_solver_create_field, nde_field_f, nde_field_vjp, nde_field_jvp
  public :: nde_adjoint_discrete
  public :: nde_optim_create, nde_optim_destroy, nde_optim_step, nde_optim_set_lr
  public :: nde_train_defaults, nde_trainer_create, nde_trainer_destroy, nde_trainer_run, nde_trainer_evaluate, &
    nde_trainer_train_loss, nde_trainer_test_metric, nde_trainer_epoch, nde_trainer_step

  !> A vector field written in Fortran: module procedures (or external ones) with these
  !> bind(C) interfaces, given to nde_solver_create_field. u, du, v, … are (dim, batch)
  !> arrays of dim·batch values; `user` is the pointer given at creation. Return NDE_OK, or
  !> another status to stop the solve (e.g. NDE_ERR_NONFINITE).
  abstract interface
    !> du = f(t, u).
    function nde_field_f(user, t, u, du, batch) bind(C) result(st)
      import :: c_ptr, c_double, c_size_t, c_int
      type(c_ptr), value :: user
      real(c_double), value :: t
      real(c_double), intent(in) :: u(*)
      real(c_double), intent(inout) :: du(*)
      integer(c_size_t), value :: batch
      integer(c_int) :: st
    end function
    !> vu = vᵀ ∂f/∂u (WRITTEN; skip when vu is null) and gtheta(n_params) += vᵀ ∂f/∂θ
    !> (ADDED; skip when gtheta is null): use c_f_pointer on vu and gtheta.
    function nde_field_vjp(user, t, u, v, vu, gtheta, batch) bind(C) result(st)
      import :: c_ptr, c_double, c_size_t, c_int
      type(c_ptr), value :: user, vu, gtheta
      real(c_double), value :: t
      real(c_double), intent(in) :: u(*), v(*)
      integer(c_size_t), value :: batch
      integer(c_int) :: st
    end function
    !> jw = (∂f/∂u) w (optional; implicit SUNDIALS methods use it).
    function nde_field_jvp(user, t, u, w, jw, batch) bind(C) result(st)
      import :: c_ptr, c_double, c_size_t, c_int
      type(c_ptr), value :: user
      real(c_double), value :: t
      real(c_double), intent(in) :: u(*), w(*)
      real(c_double), intent(inout) :: jw(*)
      integer(c_size_t), value :: batch
      integer(c_int) :: st
    end function
  end interface

  interface
    ! core
    function c_last_error() bind(C, name='nde_last_error') result(r)
      import :: c_ptr
      type(c_ptr) :: r
    end function
    function c_fail(st, msg) bind(C, name='ndef_fail') result(r)
      import :: c_int, c_int64_t, c_char
      integer(c_int64_t), value :: st
      character(kind=c_char) :: msg(*)
      integer(c_int) :: r
    end function
    function c_status_str(s) bind(C, name='nde_status_str') result(r)
      import :: c_ptr, c_int
      integer(c_int), value :: s
      type(c_ptr) :: r
    end function
    function c_strlen(s) bind(C, name='strlen') result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: r
    end function
    function c_ctx_create(ctx) bind(C, name='nde_ctx_create') result(r)
      import :: c_ptr, c_int
      type(c_ptr) :: ctx
      integer(c_int) :: r
    end function
    subroutine c_ctx_destroy(ctx) bind(C, name='nde_ctx_destroy')
      import :: c_ptr
      type(c_ptr) :: ctx
    end subroutine
    ! models
    function c_mlp_create(in, out, n_hidden, hidden, act, time, init, scale, m) &
        bind(C, name='ndef_model_mlp_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      integer(c_int64_t), value :: in, out, n_hidden, act, time, init
      integer(c_int64_t) :: hidden(*)
      real(c_double), value :: scale
      type(c_ptr) :: m
      integer(c_int) :: r
    end function
    function c_fno_create(ctx, ndim, in_ch, out_ch, width, modes, layers, proj_hidden, grid, &
        padding, n, max_batch, n_threads, precision, m) bind(C, name='ndef_model_fno_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: ctx
      integer(c_int64_t), value :: ndim, in_ch, out_ch, width, layers, proj_hidden, grid, &
        max_batch, n_threads, precision
      integer(c_int64_t) :: modes(*), n(*)
      real(c_double), value :: padding
      type(c_ptr) :: m
      integer(c_int) :: r
    end function
    function c_node_create(ctx, field, nt, ts, output, method, rtol, atol, h0, max_steps, &
        adjoint, m) bind(C, name='ndef_model_node_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: ctx, field
      integer(c_int64_t), value :: nt, output, method, max_steps, adjoint
      real(c_double) :: ts(*)
      real(c_double), value :: rtol, atol, h0
      type(c_ptr) :: m
      integer(c_int) :: r
    end function
    function c_model_init_seed(m, seed) bind(C, name='ndef_model_init_seed') result(r)
      import :: c_ptr, c_int, c_int64_t
      type(c_ptr), value :: m
      integer(c_int64_t), value :: seed
      integer(c_int) :: r
    end function
    subroutine c_model_destroy(m) bind(C, name='nde_model_destroy')
      import :: c_ptr
      type(c_ptr) :: m
    end subroutine
    pure function c_model_n_params(m) bind(C, name='nde_model_n_params') result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: m
      integer(c_size_t) :: r
    end function
    pure function c_model_in_size(m) bind(C, name='nde_model_in_size') result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: m
      integer(c_size_t) :: r
    end function
    pure function c_model_out_size(m) bind(C, name='nde_model_out_size') result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: m
      integer(c_size_t) :: r
    end function
    function c_model_set_training(m, training) bind(C, name='nde_model_set_training') result(r)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), value :: training
      integer(c_int) :: r
    end function
    function c_model_params(m) bind(C, name='nde_model_params') result(r)
      import :: c_ptr
      type(c_ptr), value :: m
      type(c_ptr) :: r
    end function
    function c_params_theta(p) bind(C, name='nde_params_theta') result(r)
      import :: c_ptr
      type(c_ptr), value :: p
      type(c_ptr) :: r
    end function
    function c_params_grad(p) bind(C, name='nde_params_grad') result(r)
      import :: c_ptr
      type(c_ptr), value :: p
      type(c_ptr) :: r
    end function
    subroutine c_params_zero_grad(p) bind(C, name='nde_params_zero_grad')
      import :: c_ptr
      type(c_ptr), value :: p
    end subroutine
    function c_model_forward(m, x, y, batch) bind(C, name='nde_model_forward') result(r)
      import :: c_ptr, c_int, c_size_t
      type(c_ptr), value :: m, x, y
      integer(c_size_t), value :: batch
      integer(c_int) :: r
    end function
    function c_model_backward(m, gy, gx, gtheta, batch) bind(C, name='nde_model_backward') result(r)
      import :: c_ptr, c_int, c_size_t
      type(c_ptr), value :: m, gy, gx, gtheta
      integer(c_size_t), value :: batch
      integer(c_int) :: r
    end function
    ! checkpoints
    function c_checkpoint_load(path, params, opt, ts) bind(C, name='nde_checkpoint_load') result(r)
      import :: c_ptr, c_int, c_char
      character(kind=c_char) :: path(*)
      type(c_ptr), value :: params, opt, ts
      integer(c_int) :: r
    end function
    function c_checkpoint_save(path, params, opt, ts) bind(C, name='nde_checkpoint_save') result(r)
      import :: c_ptr, c_int, c_char
      character(kind=c_char) :: path(*)
      type(c_ptr), value :: params, opt, ts
      integer(c_int) :: r
    end function
    ! solver and adjoint
    function c_solver_create(ctx, m, method, rtol, atol, h0, max_steps, tape, s) &
        bind(C, name='ndef_solver_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: ctx, m
      integer(c_int64_t), value :: method, max_steps, tape
      real(c_double), value :: rtol, atol, h0
      type(c_ptr) :: s
      integer(c_int) :: r
    end function
    function c_solver_create_field(ctx, dim, n_params, f, vjp, jvp, user, method, rtol, atol, h0, &
        max_steps, tape, s) bind(C, name='ndef_solver_create_field') result(r)
      import :: c_ptr, c_funptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: ctx, user
      integer(c_int64_t), value :: dim, n_params, method, max_steps, tape
      type(c_funptr), value :: f, vjp, jvp
      real(c_double), value :: rtol, atol, h0
      type(c_ptr) :: s
      integer(c_int) :: r
    end function
    subroutine c_solver_destroy(s) bind(C, name='nde_solver_destroy')
      import :: c_ptr
      type(c_ptr) :: s
    end subroutine
    function c_solve(s, batch, dim, u0, nt, ts, traj) bind(C, name='nde_solve') result(r)
      import :: c_ptr, c_int, c_size_t, c_double
      type(c_ptr), value :: s
      integer(c_size_t), value :: batch, dim, nt
      real(c_double) :: u0(*), ts(*), traj(*)
      integer(c_int) :: r
    end function
    function c_solver_steps(s, n) bind(C, name='nde_solver_steps') result(r)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
      type(c_ptr) :: r
    end function
    function c_solver_get_stats(s) bind(C, name='nde_solver_get_stats') result(r)
      import :: c_ptr
      type(c_ptr), value :: s
      type(c_ptr) :: r
    end function
    function c_adjoint_discrete(s, dl, gtheta, n_theta, gu0) bind(C, name='nde_adjoint_discrete') result(r)
      import :: c_ptr, c_int, c_size_t, c_double
      type(c_ptr), value :: s, gtheta, gu0
      real(c_double) :: dl(*)
      integer(c_size_t), value :: n_theta
      integer(c_int) :: r
    end function
    ! optimizer
    function c_optim_create(m, kind, lr, wd, opt) bind(C, name='ndef_optim_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: m
      integer(c_int64_t), value :: kind
      real(c_double), value :: lr, wd
      type(c_ptr) :: opt
      integer(c_int) :: r
    end function
    subroutine c_optim_destroy(opt) bind(C, name='nde_optim_destroy')
      import :: c_ptr
      type(c_ptr) :: opt
    end subroutine
    function c_optim_step(opt) bind(C, name='nde_optim_step') result(r)
      import :: c_ptr, c_int
      type(c_ptr), value :: opt
      integer(c_int) :: r
    end function
    function c_optim_set_lr(opt, lr) bind(C, name='nde_optim_set_lr') result(r)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: opt
      real(c_double), value :: lr
      integer(c_int) :: r
    end function
    ! trainer
    subroutine c_train_defaults(o) bind(C, name='ndef_train_defaults')
      import :: nde_train_options
      type(nde_train_options) :: o
    end subroutine
    function c_trainer_create(m, n, x_size, y_size, x, y, n_test, x_test, y_test, o, path, tr) &
        bind(C, name='ndef_trainer_create') result(r)
      import :: c_ptr, c_int, c_int64_t, c_char, nde_train_options
      type(c_ptr), value :: m, x, y, x_test, y_test
      integer(c_int64_t), value :: n, x_size, y_size, n_test
      type(nde_train_options) :: o
      character(kind=c_char) :: path(*)
      type(c_ptr) :: tr
      integer(c_int) :: r
    end function
    subroutine c_trainer_destroy(tr) bind(C, name='ndef_trainer_destroy')
      import :: c_ptr
      type(c_ptr) :: tr
    end subroutine
    function c_trainer_run(tr) bind(C, name='ndef_trainer_run') result(r)
      import :: c_ptr, c_int
      type(c_ptr), value :: tr
      integer(c_int) :: r
    end function
    function c_trainer_evaluate(tr, n, x_size, y_size, x, y, metric) &
        bind(C, name='ndef_trainer_evaluate') result(r)
      import :: c_ptr, c_int, c_int64_t, c_double
      type(c_ptr), value :: tr, x, y
      integer(c_int64_t), value :: n, x_size, y_size
      real(c_double) :: metric
      integer(c_int) :: r
    end function
    pure function c_trainer_train_loss(tr) bind(C, name='ndef_trainer_train_loss') result(r)
      import :: c_ptr, c_double
      type(c_ptr), value :: tr
      real(c_double) :: r
    end function
    pure function c_trainer_test_metric(tr) bind(C, name='ndef_trainer_test_metric') result(r)
      import :: c_ptr, c_double
      type(c_ptr), value :: tr
      real(c_double) :: r
    end function
    pure function c_trainer_epoch(tr) bind(C, name='ndef_trainer_epoch') result(r)
      import :: c_ptr, c_int64_t
      type(c_ptr), value :: tr
      integer(c_int64_t) :: r
    end function
    pure function c_trainer_step(tr) bind(C, name='ndef_trainer_step') result(r)
      import :: c_ptr, c_int64_t
      type(c_ptr), value :: tr
      integer(c_int64_t) :: r
    end function
  end interface

  !> nde_model_init(model, seed): seed of kind int32 or int64.
  interface nde_model_init
    module procedure nde_model_init_i4, nde_model_init_i8
  end interface

  !> The solver's statistics (nde_solver_stats, nde/ode.h); only the counts are read.
  type, bind(C) :: c_solver_stats
    integer(c_size_t) :: n_accepted, n_rejected, nfe, n_vjp, n_adjoint_nfe
  end type

contains

  ! ---------------------------------------------------------------- strings and errors

  !> A NUL-terminated copy of a Fortran string (trailing blanks removed).
  function c_string(s) result(r)
    character(len=*), intent(in) :: s
    character(kind=c_char, len=:), allocatable :: r
    r = trim(s) // c_null_char
  end function

  !> Copy a C string into a Fortran string.
  function f_string(p) result(r)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: r
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    if (.not. c_associated(p)) then
      r = ''
      return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: r)
    do i = 1, n
      r(i:i) = chars(i)
    end do
  end function

  !> Record a failure found on the Fortran side (message for nde_last_error) and return st.
  integer function fail(st, msg) result(r)
    integer, intent(in) :: st
    character(len=*), intent(in) :: msg
    r = c_fail(int(st, c_int64_t), c_string(msg))
  end function

  !> An integer as text.
  function itoa(v) result(r)
    integer(int64), intent(in) :: v
    character(len=:), allocatable :: r
    character(len=24) :: buf
    write (buf, '(i0)') v
    r = trim(buf)
  end function

  !> The message of the last failure on this thread ('' if none), nde_last_error().
  function nde_last_error() result(r)
    character(len=:), allocatable :: r
    r = f_string(c_last_error())
  end function

  !> Short name of a status code ("ok", "invalid argument", ...), nde_status_str().
  function nde_status_string(status) result(r)
    integer, intent(in) :: status
    character(len=:), allocatable :: r
    r = f_string(c_status_str(int(status, c_int)))
  end function

  ! ---------------------------------------------------------------- context

  !> Create a library context (FFT plan cache, SUNDIALS context).
  integer function nde_ctx_create(ctx) result(st)
    type(nde_ctx), intent(inout) :: ctx
    st = c_ctx_create(ctx%p)
  end function

  !> Destroy a context (null: no-op); ctx becomes null.
  subroutine nde_ctx_destroy(ctx)
    type(nde_ctx), intent(inout) :: ctx
    call c_ctx_destroy(ctx%p)
  end subroutine

  ! ---------------------------------------------------------------- models

  !> MLP model in → hidden(:) → out (nde_model_mlp_create). act: NDE_ACT_* of the hidden
  !> layers (tanh); time: NDE_TIME_* (none); init: NDE_INIT_* (torch) with scale (0).
  integer function nde_model_mlp_create(model, n_in, n_out, hidden, act, time, init, scale) result(st)
    type(nde_model), intent(inout) :: model
    integer, intent(in) :: n_in, n_out
    integer, intent(in) :: hidden(:)
    integer, intent(in), optional :: act, time, init
    real(c_double), intent(in), optional :: scale
    integer(c_int64_t) :: h(max(1, size(hidden))), a, tm, ini
    real(c_double) :: sc
    h = 0
    h(1:size(hidden)) = int(hidden, c_int64_t)
    a = NDE_ACT_TANH;  if (present(act)) a = act
    tm = NDE_TIME_NONE;  if (present(time)) tm = time
    ini = NDE_INIT_TORCH;  if (present(init)) ini = init
    sc = 0;  if (present(scale)) sc = scale
    st = c_mlp_create(int(n_in, c_int64_t), int(n_out, c_int64_t), int(size(hidden), c_int64_t), &
                      h, a, tm, ini, sc, model%p)
  end function

  !> FNO model on grid n(1) (1-D) or n(1:2) (2-D), as `nde train` builds it: the paper's
  !> FNO (GELU, grid channels) with width, modes (one per axis, or one for all), layers and
  !> proj_hidden (0: a linear projection). Defaults: 1 → 1 channel, grid on, no padding,
  !> max_batch 1, 1 thread, float32 layers (double64 = .true.: float64 layers, e.g. for
  !> finite-difference checks). ctx must outlive the model.
  integer function nde_model_fno_create(model, ctx, n, width, modes, layers, proj_hidden, &
      in_channels, out_channels, grid, padding, max_batch, n_threads, double64) result(st)
    type(nde_model), intent(inout) :: model
    type(nde_ctx), intent(in) :: ctx
    integer, intent(in) :: n(:), width, modes(:), layers, proj_hidden
    integer, intent(in), optional :: in_channels, out_channels, max_batch, n_threads
    logical, intent(in), optional :: grid, double64
    real(c_double), intent(in), optional :: padding
    integer(c_int64_t) :: nn(2), mm(2), ic, oc, g, mb, nt, prec
    real(c_double) :: pad
    if (size(n) < 1 .or. size(n) > 2 .or. size(modes) < 1) then
      st = NDE_ERR_ARG
      return
    end if
    nn = 0;  nn(1:size(n)) = n
    mm = modes(1);  mm(1:min(2, size(modes))) = modes(1:min(2, size(modes)))
    ic = 1;  if (present(in_channels)) ic = in_channels
    oc = 1;  if (present(out_channels)) oc = out_channels
    g = 1;  if (present(grid)) then; if (.not. grid) g = 0; end if
    pad = 0;  if (present(padding)) pad = padding
    mb = 1;  if (present(max_batch)) mb = max_batch
    nt = 1;  if (present(n_threads)) nt = n_threads
    prec = 1;  if (present(double64)) then; if (double64) prec = 0; end if
    st = c_fno_create(ctx%p, int(size(n), c_int64_t), ic, oc, int(width, c_int64_t), mm, &
                      int(layers, c_int64_t), int(proj_hidden, c_int64_t), g, pad, nn, mb, nt, &
                      prec, model%p)
  end function

  !> Neural ODE model around field_model (taken: field_model becomes null, also on
  !> failure): x = u0 (dim, batch), y = the states at the save times ts(:) — (dim, nt,
  !> batch) for output NDE_NODE_TRAJECTORY (default), (dim, batch) for NDE_NODE_FINAL.
  !> Solver method (DOPRI5), rtol, atol, h0, max_steps (library defaults), adjoint kind
  !> (NDE_ADJ_DISCRETE_STAGES). ctx may be omitted for the explicit Runge–Kutta methods.
  integer function nde_model_node_create(model, field_model, ts, output, method, rtol, atol, &
      h0, max_steps, adjoint, ctx) result(st)
    type(nde_model), intent(inout) :: model, field_model
    real(c_double), intent(in) :: ts(:)
    integer, intent(in), optional :: output, method, max_steps, adjoint
    real(c_double), intent(in), optional :: rtol, atol, h0
    type(nde_ctx), intent(in), optional :: ctx
    real(c_double) :: tsc(size(ts))
    type(c_ptr) :: cp
    tsc = ts
    cp = c_null_ptr;  if (present(ctx)) cp = ctx%p
    st = c_node_create(cp, field_model%p, int(size(ts), c_int64_t), tsc, opt_i(output, NDE_NODE_TRAJECTORY), &
                       opt_i(method, NDE_DOPRI5), opt_r(rtol), opt_r(atol), opt_r(h0), &
                       opt_i(max_steps, 0), opt_i(adjoint, NDE_ADJ_DISCRETE_STAGES), model%p)
    field_model%p = c_null_ptr
  end function

  !> Draw θ from a generator seeded with `seed` (nde_model_init; same seed, same bits).
  integer function nde_model_init_i8(model, seed) result(st)
    type(nde_model), intent(in) :: model
    integer(int64), intent(in) :: seed
    st = c_model_init_seed(model%p, int(seed, c_int64_t))
  end function
  integer function nde_model_init_i4(model, seed) result(st)
    type(nde_model), intent(in) :: model
    integer(int32), intent(in) :: seed
    st = c_model_init_seed(model%p, int(seed, c_int64_t))
  end function

  !> Free the model and its parameters (null: no-op); model becomes null.
  subroutine nde_model_destroy(model)
    type(nde_model), intent(inout) :: model
    call c_model_destroy(model%p)
  end subroutine

  !> Number of parameters (length of θ and of the gradient).
  pure integer(int64) function nde_model_n_params(model) result(n)
    type(nde_model), intent(in) :: model
    n = int(c_model_n_params(model%p), int64)
  end function

  !> Values per sample of the model's input and output.
  pure integer(int64) function nde_model_in_size(model) result(n)
    type(nde_model), intent(in) :: model
    n = int(c_model_in_size(model%p), int64)
  end function
  pure integer(int64) function nde_model_out_size(model) result(n)
    type(nde_model), intent(in) :: model
    n = int(c_model_out_size(model%p), int64)
  end function

  !> Training (.true.) or evaluation mode (nde_model_set_training).
  integer function nde_model_set_training(model, training) result(st)
    type(nde_model), intent(in) :: model
    logical, intent(in) :: training
    integer(c_int) :: t
    t = 0;  if (training) t = 1
    st = c_model_set_training(model%p, t)
  end function

  ! ---------------------------------------------------------------- parameters

  !> The model's flat θ or gradient as a Fortran pointer (into the library's store; valid
  !> until the model is destroyed). Null for a null model.
  function store_view(model, grad) result(v)
    type(nde_model), intent(in) :: model
    logical, intent(in) :: grad
    real(c_double), pointer :: v(:)
    type(c_ptr) :: p, a
    integer(int64) :: n
    v => null()
    p = c_model_params(model%p)
    if (.not. c_associated(p)) return
    n = nde_model_n_params(model)
    if (grad) then
      a = c_params_grad(p)
    else
      a = c_params_theta(p)
    end if
    if (.not. c_associated(a)) return
    call c_f_pointer(a, v, [n])
  end function

  !> theta(1:n_params) = θ. NDE_ERR_SHAPE if theta has another size.
  integer function nde_get_params(model, theta) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(out) :: theta(:)
    real(c_double), pointer :: v(:)
    st = view_checked(model, .false., size(theta, kind=int64), v)
    if (st == NDE_OK) theta = v
  end function

  !> θ = theta(1:n_params). NDE_ERR_SHAPE if theta has another size.
  integer function nde_set_params(model, theta) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(in) :: theta(:)
    real(c_double), pointer :: v(:)
    st = view_checked(model, .false., size(theta, kind=int64), v)
    if (st == NDE_OK) v = theta
  end function

  !> grad(1:n_params) = the store's gradient (what nde_model_backward accumulated).
  integer function nde_get_grad(model, grad) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(out) :: grad(:)
    real(c_double), pointer :: v(:)
    st = view_checked(model, .true., size(grad, kind=int64), v)
    if (st == NDE_OK) grad = v
  end function

  !> gradient = grad(1:n_params) (e.g. a gradient reduced over MPI ranks before a step).
  integer function nde_set_grad(model, grad) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(in) :: grad(:)
    real(c_double), pointer :: v(:)
    st = view_checked(model, .true., size(grad, kind=int64), v)
    if (st == NDE_OK) v = grad
  end function

  !> The model's θ itself, as a pointer into the library's store (no copy): writes change
  !> the model. Valid until the model is destroyed; null for a null model.
  function nde_theta(model) result(v)
    type(nde_model), intent(in) :: model
    real(c_double), pointer :: v(:)
    v => store_view(model, .false.)
  end function

  !> The model's gradient itself, as a pointer into the library's store (no copy).
  function nde_grad(model) result(v)
    type(nde_model), intent(in) :: model
    real(c_double), pointer :: v(:)
    v => store_view(model, .true.)
  end function

  !> Set the store's gradient to zero (nde_params_zero_grad).
  integer function nde_zero_grad(model) result(st)
    type(nde_model), intent(in) :: model
    type(c_ptr) :: p
    p = c_model_params(model%p)
    st = NDE_OK
    if (c_associated(p)) then
      call c_params_zero_grad(p)
    else
      st = fail(NDE_ERR_ARG, 'nde_zero_grad: null model')
    end if
  end function

  integer function view_checked(model, grad, n, v) result(st)
    type(nde_model), intent(in) :: model
    logical, intent(in) :: grad
    integer(int64), intent(in) :: n
    real(c_double), pointer, intent(out) :: v(:)
    v => store_view(model, grad)
    st = NDE_OK
    if (.not. associated(v)) then
      st = fail(NDE_ERR_ARG, 'parameters: null model')
    else if (size(v, kind=int64) /= n) then
      st = fail(NDE_ERR_SHAPE, 'parameters: the array has ' // itoa(n) // ' values, the model ' // &
                itoa(size(v, kind=int64)))
    end if
  end function

  ! ---------------------------------------------------------------- forward / backward

  !> y(out_size, batch) = model(x(in_size, batch)) (nde_model_forward). x and y are
  !> contiguous arrays of any rank holding exactly batch·in_size and batch·out_size values
  !> (NDE_ERR_SHAPE otherwise).
  integer function nde_model_forward(model, x, y, batch) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(in), target, contiguous :: x(..)
    real(c_double), intent(inout), target, contiguous :: y(..)
    integer, intent(in) :: batch
    st = check_sizes(model, 'nde_model_forward', 'x', size(x, kind=int64), .true., batch)
    if (st == NDE_OK) st = check_sizes(model, 'nde_model_forward', 'y', size(y, kind=int64), .false., batch)
    if (st /= NDE_OK) return
    st = c_model_forward(model%p, c_loc(x), c_loc(y), int(batch, c_size_t))
  end function

  !> NDE_OK if n = batch · (in_size if is_in, else out_size), else a message.
  integer function check_sizes(model, who, what, n, is_in, batch) result(st)
    type(nde_model), intent(in) :: model
    character(len=*), intent(in) :: who, what
    integer(int64), intent(in) :: n
    logical, intent(in) :: is_in
    integer, intent(in) :: batch
    integer(int64) :: per
    st = NDE_OK
    if (.not. c_associated(model%p)) then
      st = fail(NDE_ERR_ARG, who // ': null model')
      return
    end if
    if (batch < 1) then
      st = fail(NDE_ERR_ARG, who // ': batch ' // itoa(int(batch, int64)) // ' < 1')
      return
    end if
    if (is_in) then
      per = nde_model_in_size(model)
    else
      per = nde_model_out_size(model)
    end if
    if (n /= per * batch) st = fail(NDE_ERR_SHAPE, who // ': ' // what // ' has ' // itoa(n) // &
      ' values, expected ' // itoa(per) // ' x batch ' // itoa(int(batch, int64)) // ' = ' // itoa(per * batch))
  end function

  !> After a forward on the same batch: the store's gradient += gyᵀ ∂y/∂θ, and gx(in_size,
  !> batch) = gyᵀ ∂y/∂x when gx is present (nde_model_backward).
  integer function nde_model_backward(model, gy, batch, gx) result(st)
    type(nde_model), intent(in) :: model
    real(c_double), intent(in), target, contiguous :: gy(..)
    integer, intent(in) :: batch
    real(c_double), intent(inout), optional, target, contiguous :: gx(..)
    type(c_ptr) :: pgx
    st = check_sizes(model, 'nde_model_backward', 'gy', size(gy, kind=int64), .false., batch)
    if (st /= NDE_OK) return
    pgx = c_null_ptr
    if (present(gx)) then
      st = check_sizes(model, 'nde_model_backward', 'gx', size(gx, kind=int64), .true., batch)
      if (st /= NDE_OK) return
      pgx = c_loc(gx)
    end if
    st = c_model_backward(model%p, c_loc(gy), pgx, c_params_grad(c_model_params(model%p)), &
                          int(batch, c_size_t))
  end function

  ! ---------------------------------------------------------------- checkpoints

  !> Load the model's θ from a safetensors checkpoint (nde_checkpoint_load; optimizer and
  !> training state in the file are ignored). Nothing changes on failure.
  integer function nde_checkpoint_load(model, path) result(st)
    type(nde_model), intent(in) :: model
    character(len=*), intent(in) :: path
    st = c_checkpoint_load(c_string(path), c_model_params(model%p), c_null_ptr, c_null_ptr)
  end function

  !> Save the model's θ as a safetensors checkpoint (atomic; nde_checkpoint_save).
  integer function nde_checkpoint_save(model, path) result(st)
    type(nde_model), intent(in) :: model
    character(len=*), intent(in) :: path
    st = c_checkpoint_save(c_string(path), c_model_params(model%p), c_null_ptr, c_null_ptr)
  end function

  ! ---------------------------------------------------------------- solver and adjoint

  !> A solver for du/dt = f(t, u) with f the model's vector field (an MLP with in = out,
  !> an FNO with as many input as output channels). method (DOPRI5), rtol, atol, h0,
  !> max_steps (library defaults), tape: NDE_TAPE_* (NDE_TAPE_STAGES, so
  !> nde_adjoint_discrete works). The model must outlive the solver.
  integer function nde_solver_create(solver, model, method, rtol, atol, h0, max_steps, tape, ctx) result(st)
    type(nde_solver), intent(inout) :: solver
    type(nde_model), intent(in) :: model
    integer, intent(in), optional :: method, max_steps, tape
    real(c_double), intent(in), optional :: rtol, atol, h0
    type(nde_ctx), intent(in), optional :: ctx
    type(c_ptr) :: cp
    cp = c_null_ptr;  if (present(ctx)) cp = ctx%p
    st = c_solver_create(cp, model%p, opt_i(method, NDE_DOPRI5), opt_r(rtol), opt_r(atol), &
                         opt_r(h0), opt_i(max_steps, 0), opt_i(tape, NDE_TAPE_STAGES), solver%p)
  end function

  !> A solver for a vector field written in Fortran: dim values per sample, callbacks f
  !> (required), vjp (needed by nde_adjoint_discrete) and jvp, n_params parameters the
  !> user's field owns (0; the adjoint adds ∂L/∂θ to the grad_theta array it is given),
  !> `user` passed to every callback (e.g. c_loc of the field's data; null by default).
  !> Other options as nde_solver_create. The callbacks run on the calling thread.
  integer function nde_solver_create_field(solver, dim, f, vjp, n_params, user, jvp, method, &
      rtol, atol, h0, max_steps, tape, ctx) result(st)
    type(nde_solver), intent(inout) :: solver
    integer, intent(in) :: dim
    procedure(nde_field_f) :: f
    procedure(nde_field_vjp), optional :: vjp
    integer, intent(in), optional :: n_params, method, max_steps, tape
    type(c_ptr), intent(in), optional :: user
    procedure(nde_field_jvp), optional :: jvp
    real(c_double), intent(in), optional :: rtol, atol, h0
    type(nde_ctx), intent(in), optional :: ctx
    type(c_ptr) :: cp, up
    type(c_funptr) :: pv, pj
    cp = c_null_ptr;  if (present(ctx)) cp = ctx%p
    up = c_null_ptr;  if (present(user)) up = user
    pv = c_null_funptr;  if (present(vjp)) pv = c_funloc(vjp)
    pj = c_null_funptr;  if (present(jvp)) pj = c_funloc(jvp)
    st = c_solver_create_field(cp, int(dim, c_int64_t), opt_i(n_params, 0), c_funloc(f), pv, pj, &
                               up, opt_i(method, NDE_DOPRI5), opt_r(rtol), opt_r(atol), opt_r(h0), &
                               opt_i(max_steps, 0), opt_i(tape, NDE_TAPE_STAGES), solver%p)
  end function

  !> Free the solver (null: no-op); solver becomes null.
  subroutine nde_solver_destroy(solver)
    type(nde_solver), intent(inout) :: solver
    call c_solver_destroy(solver%p)
  end subroutine

  !> Integrate from ts(1) to ts(nt) from u0(dim, batch); traj(dim, batch, nt) gets the
  !> states at every ts(k) (traj(:,:,1) = u0). nde_solve.
  integer function nde_solve(solver, u0, ts, traj) result(st)
    type(nde_solver), intent(in) :: solver
    real(c_double), intent(in) :: u0(:,:), ts(:)
    real(c_double), intent(out) :: traj(:,:,:)
    if (size(traj, 1) /= size(u0, 1) .or. size(traj, 2) /= size(u0, 2) .or. &
        size(traj, 3) /= size(ts)) then
      st = fail(NDE_ERR_SHAPE, 'nde_solve: traj is (' // itoa(size(traj, 1, int64)) // ', ' // &
        itoa(size(traj, 2, int64)) // ', ' // itoa(size(traj, 3, int64)) // '), expected (' // &
        itoa(size(u0, 1, int64)) // ', ' // itoa(size(u0, 2, int64)) // ', ' // itoa(size(ts, kind=int64)) // ')')
      return
    end if
    st = c_solve(solver%p, int(size(u0, 2), c_size_t), int(size(u0, 1), c_size_t), u0, &
                 int(size(ts), c_size_t), ts, traj)
  end function

  !> The step log of the last solve: one entry per accepted step (start time t, signed
  !> step h, normalized error estimate err, stiffness estimate stiff).
  integer function nde_solver_step_log(solver, t, h, err, stiff) result(st)
    type(nde_solver), intent(in) :: solver
    real(c_double), allocatable, intent(out) :: t(:), h(:), err(:), stiff(:)
    type(nde_step_rec), pointer :: rec(:)
    type(c_ptr) :: p
    integer(c_size_t) :: n
    st = NDE_ERR_ARG
    if (.not. c_associated(solver%p)) return
    n = 0
    p = c_solver_steps(solver%p, n)
    allocate(t(n), h(n), err(n), stiff(n))
    st = NDE_OK
    if (n == 0 .or. .not. c_associated(p)) return
    call c_f_pointer(p, rec, [n])
    t = rec%t
    h = rec%h
    err = rec%err_est
    stiff = rec%stiff_est
  end function

  !> Counters of the last solve: accepted and rejected steps, right-hand-side evaluations.
  integer function nde_solver_counts(solver, n_accepted, n_rejected, nfe) result(st)
    type(nde_solver), intent(in) :: solver
    integer(int64), intent(out), optional :: n_accepted, n_rejected, nfe
    type(c_solver_stats), pointer :: s
    type(c_ptr) :: p
    st = NDE_ERR_ARG
    p = c_solver_get_stats(solver%p)
    if (.not. c_associated(p)) return
    call c_f_pointer(p, s)
    if (present(n_accepted)) n_accepted = int(s%n_accepted, int64)
    if (present(n_rejected)) n_rejected = int(s%n_rejected, int64)
    if (present(nfe)) nfe = int(s%nfe, int64)
    st = NDE_OK
  end function

  !> Discrete adjoint of the last solve (nde_adjoint_discrete): given dL_dtraj(dim, batch,
  !> nt) = ∂L/∂traj, ADD ∂L/∂θ to grad_theta(n_params) and, when present, WRITE ∂L/∂u0 to
  !> grad_u0(dim, batch). The solver needs a tape (the default NDE_TAPE_STAGES).
  integer function nde_adjoint_discrete(solver, dl_dtraj, grad_theta, grad_u0) result(st)
    type(nde_solver), intent(in) :: solver
    real(c_double), intent(in) :: dl_dtraj(:,:,:)
    real(c_double), intent(inout), target, contiguous :: grad_theta(:)
    real(c_double), intent(out), optional, target, contiguous :: grad_u0(:,:)
    type(c_ptr) :: pu0
    pu0 = c_null_ptr
    if (present(grad_u0)) then
      if (size(grad_u0, 1) /= size(dl_dtraj, 1) .or. size(grad_u0, 2) /= size(dl_dtraj, 2)) then
        st = fail(NDE_ERR_SHAPE, 'nde_adjoint_discrete: grad_u0 is not (dim, batch) of dl_dtraj')
        return
      end if
      pu0 = c_loc(grad_u0)
    end if
    st = c_adjoint_discrete(solver%p, dl_dtraj, c_loc(grad_theta), &
                            int(size(grad_theta), c_size_t), pu0)
  end function

  ! ---------------------------------------------------------------- optimizer

  !> An optimizer over the model's θ and gradient: kind NDE_OPT_* (Adam) with its reference
  !> defaults, lr and weight_decay replacing them when present. nde_optim_create.
  integer function nde_optim_create(opt, model, kind, lr, weight_decay) result(st)
    type(nde_optim), intent(inout) :: opt
    type(nde_model), intent(in) :: model
    integer, intent(in), optional :: kind
    real(c_double), intent(in), optional :: lr, weight_decay
    real(c_double) :: wd
    wd = -1;  if (present(weight_decay)) wd = weight_decay
    st = c_optim_create(model%p, opt_i(kind, NDE_OPT_ADAM), opt_r(lr), wd, opt%p)
  end function

  !> Free the optimizer (null: no-op); opt becomes null.
  subroutine nde_optim_destroy(opt)
    type(nde_optim), intent(inout) :: opt
    call c_optim_destroy(opt%p)
  end subroutine

  !> One update of θ from the store's gradient (nde_optim_step).
  integer function nde_optim_step(opt) result(st)
    type(nde_optim), intent(in) :: opt
    st = c_optim_step(opt%p)
  end function

  !> Learning rate of the following steps (nde_optim_set_lr).
  integer function nde_optim_set_lr(opt, lr) result(st)
    type(nde_optim), intent(in) :: opt
    real(c_double), intent(in) :: lr
    st = c_optim_set_lr(opt%p, lr)
  end function

  ! ---------------------------------------------------------------- trainer

  !> The trainer's defaults (nde_trainer_defaults): set batch, then change what you need.
  function nde_train_defaults() result(o)
    type(nde_train_options) :: o
    call c_train_defaults(o)
  end function

  !> A trainer for model on x(x_size, n), y(y_size, n) and optional test data
  !> x_test/y_test; checkpoint: a file the trainer writes (atomically) every
  !> opts%checkpoint_every epochs. x, y, x_test and y_test are borrowed: they must be
  !> TARGETs that outlive the trainer and stay unchanged. nde_trainer_create.
  integer function nde_trainer_create(trainer, model, x, y, opts, x_test, y_test, checkpoint) result(st)
    type(nde_trainer), intent(inout) :: trainer
    type(nde_model), intent(in) :: model
    real(c_double), intent(in), target :: x(:,:), y(:,:)
    type(nde_train_options), intent(in) :: opts
    real(c_double), intent(in), target, optional :: x_test(:,:), y_test(:,:)
    character(len=*), intent(in), optional :: checkpoint
    type(nde_train_options) :: o
    type(c_ptr) :: pxt, pyt
    integer(c_int64_t) :: nt
    character(kind=c_char, len=:), allocatable :: path
    o = opts
    pxt = c_null_ptr;  pyt = c_null_ptr;  nt = 0
    ! the trainer keeps pointers to the arrays: no copies (a section with strides) allowed
    if (.not. (is_contiguous(x) .and. is_contiguous(y))) then
      st = fail(NDE_ERR_ARG, 'nde_trainer_create: x and y must be contiguous arrays (the trainer ' // &
                'keeps pointers to them)')
      return
    end if
    if (size(x, 2) /= size(y, 2)) then
      st = fail(NDE_ERR_SHAPE, 'nde_trainer_create: x has ' // itoa(size(x, 2, int64)) // &
                ' samples, y ' // itoa(size(y, 2, int64)))
      return
    end if
    if (present(x_test) .neqv. present(y_test)) then
      st = fail(NDE_ERR_ARG, 'nde_trainer_create: give both x_test and y_test or neither')
      return
    end if
    if (present(x_test)) then
      if (size(x_test, 2) /= size(y_test, 2) .or. size(x_test, 1) /= size(x, 1) .or. &
          size(y_test, 1) /= size(y, 1)) then
        st = fail(NDE_ERR_SHAPE, 'nde_trainer_create: the test data have another shape')
        return
      end if
      if (.not. (is_contiguous(x_test) .and. is_contiguous(y_test))) then
        st = fail(NDE_ERR_ARG, 'nde_trainer_create: x_test and y_test must be contiguous arrays')
        return
      end if
      pxt = c_loc(x_test);  pyt = c_loc(y_test);  nt = size(x_test, 2)
    end if
    path = c_null_char
    if (present(checkpoint)) path = c_string(checkpoint)
    st = c_trainer_create(model%p, int(size(x, 2), c_int64_t), int(size(x, 1), c_int64_t), &
                          int(size(y, 1), c_int64_t), c_loc(x), c_loc(y), nt, pxt, pyt, o, path, &
                          trainer%p)
  end function

  !> metric = the mean test metric per sample of the current θ over x(x_size, n), y(y_size,
  !> n) (nde_trainer_evaluate; the model in evaluation mode).
  integer function nde_trainer_evaluate(trainer, x, y, metric) result(st)
    type(nde_trainer), intent(in) :: trainer
    real(c_double), intent(in), target, contiguous :: x(:,:), y(:,:)
    real(c_double), intent(out) :: metric
    metric = 0
    if (size(x, 2) /= size(y, 2)) then
      st = fail(NDE_ERR_SHAPE, 'nde_trainer_evaluate: x and y have different sample counts')
      return
    end if
    st = c_trainer_evaluate(trainer%p, int(size(x, 2), c_int64_t), int(size(x, 1), c_int64_t), &
                            int(size(y, 1), c_int64_t), c_loc(x), c_loc(y), metric)
  end function

  !> Free the trainer (null: no-op); trainer becomes null.
  subroutine nde_trainer_destroy(trainer)
    type(nde_trainer), intent(inout) :: trainer
    call c_trainer_destroy(trainer%p)
  end subroutine

  !> Run the remaining epochs (nde_trainer_run).
  integer function nde_trainer_run(trainer) result(st)
    type(nde_trainer), intent(in) :: trainer
    st = c_trainer_run(trainer%p)
  end function

  !> The last epoch's training loss per sample and test metric (NaN if none).
  pure real(c_double) function nde_trainer_train_loss(trainer) result(v)
    type(nde_trainer), intent(in) :: trainer
    v = c_trainer_train_loss(trainer%p)
  end function
  pure real(c_double) function nde_trainer_test_metric(trainer) result(v)
    type(nde_trainer), intent(in) :: trainer
    v = c_trainer_test_metric(trainer%p)
  end function

  !> Completed epochs and steps.
  pure integer(int64) function nde_trainer_epoch(trainer) result(n)
    type(nde_trainer), intent(in) :: trainer
    n = c_trainer_epoch(trainer%p)
  end function
  pure integer(int64) function nde_trainer_step(trainer) result(n)
    type(nde_trainer), intent(in) :: trainer
    n = c_trainer_step(trainer%p)
  end function

  ! ---------------------------------------------------------------- helpers

  integer(c_int64_t) function opt_i(v, default) result(r)
    integer, intent(in), optional :: v
    integer, intent(in) :: default
    r = default
    if (present(v)) r = v
  end function

  real(c_double) function opt_r(v) result(r)
    real(c_double), intent(in), optional :: v
    r = -1
    if (present(v)) r = v
  end function

end module nde
