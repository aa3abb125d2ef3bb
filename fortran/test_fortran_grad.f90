! fortran/test_fortran_grad.f90 — the Fortran binding against independent truth:
!  1. its constants equal the C enum values;
!  2. a discrete-adjoint gradient through the binding (MLP vector field, DOPRI5, two
!     samples, three save times) is bit-equal to the same computation in C
!     (test_fortran_ref.c);
!  3. nde_model_backward through the binding matches central finite differences of the
!     forward pass for an MLP and an FNO-1D (relative error <= 1e-6);
!  4. an FNO-2D through the binding against central finite differences;
!  5. the trainer writes a checkpoint that loads back into a fresh model bit for bit;
!  6. errors come back as a status and a message (a missing checkpoint file, wrong sizes);
!  7. a vector field written in Fortran (du/dt = A(θ) u, A = [[-a, b], [-b, -a]]) solves to
!     the exact solution and its discrete adjoint gives the exact gradients.

! The user's field: θ = (a, b) behind the `user` pointer.
module test_user_field
  use, intrinsic :: iso_c_binding
  implicit none
  private
  public :: spiral_f, spiral_vjp
contains
  function spiral_f(user, t, u, du, batch) bind(C) result(st)
    type(c_ptr), value :: user
    real(c_double), value :: t
    real(c_double), intent(in) :: u(*)
    real(c_double), intent(inout) :: du(*)
    integer(c_size_t), value :: batch
    integer(c_int) :: st
    real(c_double), pointer :: th(:)
    integer :: k
    call c_f_pointer(user, th, [2])
    do k = 0, int(batch) - 1
      du(2 * k + 1) = -th(1) * u(2 * k + 1) + th(2) * u(2 * k + 2)
      du(2 * k + 2) = -th(2) * u(2 * k + 1) - th(1) * u(2 * k + 2)
    end do
    st = 0
    if (t < -1) st = 1 ! (t unused otherwise)
  end function

  function spiral_vjp(user, t, u, v, vu, gtheta, batch) bind(C) result(st)
    type(c_ptr), value :: user, vu, gtheta
    real(c_double), value :: t
    real(c_double), intent(in) :: u(*), v(*)
    integer(c_size_t), value :: batch
    integer(c_int) :: st
    real(c_double), pointer :: th(:), pvu(:), pg(:)
    integer :: k, i, j
    call c_f_pointer(user, th, [2])
    if (c_associated(vu)) then ! vu = Aᵀ v
      call c_f_pointer(vu, pvu, [2 * batch])
      do k = 0, int(batch) - 1
        i = 2 * k + 1;  j = 2 * k + 2
        pvu(i) = -th(1) * v(i) - th(2) * v(j)
        pvu(j) = th(2) * v(i) - th(1) * v(j)
      end do
    end if
    if (c_associated(gtheta)) then ! ∂f/∂a = -u, ∂f/∂b = (u2, -u1)
      call c_f_pointer(gtheta, pg, [2])
      do k = 0, int(batch) - 1
        i = 2 * k + 1;  j = 2 * k + 2
        pg(1) = pg(1) - v(i) * u(i) - v(j) * u(j)
        pg(2) = pg(2) + v(i) * u(j) - v(j) * u(i)
      end do
    end if
    st = 0
    if (t < -1) st = 1
  end function
end module

program test_fortran_grad
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int64, error_unit
  use nde
  use test_user_field
  implicit none
  interface
    function ref_constants(out, n) bind(C, name='ndef_test_constants') result(k)
      import :: c_int64_t
      integer(c_int64_t) :: out(*)
      integer(c_int64_t), value :: n
      integer(c_int64_t) :: k
    end function
    function c_getpid() bind(C, name='getpid') result(p)
      import :: c_int
      integer(c_int) :: p
    end function
    function ref_grad(grad, n, grad_u0) bind(C, name='ndef_test_ref_grad') result(st)
      import :: c_int64_t, c_double, c_int
      real(c_double) :: grad(*), grad_u0(*)
      integer(c_int64_t), value :: n
      integer(c_int) :: st
    end function
  end interface
  integer :: fails
  fails = 0
  call check_constants()
  call check_adjoint_bits()
  call check_fd_mlp()
  call check_fd_fno()
  call check_fd_fno2d()
  call check_trainer_checkpoint()
  call check_errors()
  call check_user_field()
  if (fails > 0) then
    write (error_unit, '(a,i0,a)') 'test_fortran_grad: ', fails, ' check(s) failed'
    stop 1
  end if
  print '(a)', 'test_fortran_grad: all checks passed'

contains

  subroutine ok(st, what)
    integer, intent(in) :: st
    character(len=*), intent(in) :: what
    if (st /= NDE_OK) then
      write (error_unit, '(a,a,a,a,a,a)') 'FAIL ', what, ': ', nde_status_string(st), ': ', nde_last_error()
      stop 1
    end if
  end subroutine

  subroutine expect(cond, what)
    logical, intent(in) :: cond
    character(len=*), intent(in) :: what
    if (.not. cond) then
      write (error_unit, '(a,a)') 'FAIL ', what
      fails = fails + 1
    end if
  end subroutine

  subroutine check_constants()
    integer(c_int64_t) :: c(64), k
    integer(c_int64_t), parameter :: f(36) = [integer(c_int64_t) :: &
      NDE_OK, NDE_ERR_ARG, NDE_ERR_SHAPE, NDE_ERR_IO, NDE_ERR_FORMAT, NDE_ERR_LIMIT, &
      NDE_EULER, NDE_RK4, NDE_DOPRI5, NDE_TSIT5, NDE_CVODE_BDF, NDE_ARK_IMEX, &
      NDE_TAPE_NONE, NDE_TAPE_STAGES, NDE_TAPE_CHECKPOINT, &
      NDE_ADJ_DISCRETE_STAGES, NDE_ADJ_BACKSOLVE, NDE_ADJ_CVODES, &
      NDE_ACT_IDENTITY, NDE_ACT_TANH, NDE_ACT_GELU, NDE_ACT_SWISH, &
      NDE_INIT_TORCH, NDE_INIT_NORMAL, NDE_TIME_NONE, NDE_TIME_ALL, &
      NDE_NODE_TRAJECTORY, NDE_NODE_FINAL, &
      NDE_OPT_SGD, NDE_OPT_ADAM, NDE_OPT_ADAMW, NDE_OPT_LION, NDE_OPT_NADAM, &
      NDE_SAMPLE_SHUFFLE, NDE_SAMPLE_ORDERED, NDE_SAMPLE_STREAM]
    k = ref_constants(c, int(size(c), c_int64_t))
    call expect(k == size(f), 'constants: count differs from the C list')
    if (k == size(f)) call expect(all(c(1:k) == f), 'constants: a Fortran value differs from C')
  end subroutine

  ! Gradient of L = ½ Σ traj² through the binding, bit for bit against C.
  subroutine check_adjoint_bits()
    type(nde_model) :: m
    type(nde_solver) :: s
    real(c_double) :: u0(2, 2), ts(3), traj(2, 2, 3), gu0(2, 2), gu0_ref(2, 2)
    real(c_double), allocatable :: g(:), g_ref(:), t(:), h(:), err(:), stiff(:)
    integer(int64) :: n, nacc
    call ok(nde_model_mlp_create(m, 2, 2, [8], act=NDE_ACT_TANH), 'mlp')
    call ok(nde_model_init(m, 3), 'init')
    n = nde_model_n_params(m)
    allocate(g(n), g_ref(n))
    call ok(nde_solver_create(s, m, method=NDE_DOPRI5, rtol=1d-7, atol=1d-9, tape=NDE_TAPE_STAGES), &
            'solver')
    u0 = reshape([0.5d0, -0.3d0, -0.2d0, 0.8d0], [2, 2])
    ts = [0d0, 0.5d0, 1d0]
    call ok(nde_solve(s, u0, ts, traj), 'solve')
    g = 0
    call ok(nde_adjoint_discrete(s, traj, g, gu0), 'adjoint')
    call ok(ref_grad(g_ref, int(n, c_int64_t), gu0_ref), 'C reference')
    call expect(all(transfer(g, 1_int64, size(g)) == transfer(g_ref, 1_int64, size(g_ref))), &
                'adjoint: dL/dtheta differs from the C API bits')
    call expect(all(transfer(reshape(gu0, [4]), 1_int64, 4) == transfer(reshape(gu0_ref, [4]), 1_int64, 4)), &
                'adjoint: dL/du0 differs from the C API bits')
    call expect(maxval(abs(g)) > 0, 'adjoint: gradient is zero')
    ! the step log: accepted steps tile [0, 1]
    call ok(nde_solver_step_log(s, t, h, err, stiff), 'step log')
    call ok(nde_solver_counts(s, n_accepted=nacc), 'counts')
    call expect(size(t) == nacc .and. nacc > 0, 'step log: one entry per accepted step')
    if (size(t) > 0) then
      call expect(.not. (abs(t(1)) > 0) .and. abs(t(size(t)) + h(size(h)) - 1d0) < 1d-12, &
                  'step log: steps cover [0, 1]')
      call expect(all(err <= 1d0) .and. all(h > 0) .and. all(stiff >= 0), &
                  'step log: accepted steps have E <= 1, h > 0, stiff >= 0')
    end if
    call nde_solver_destroy(s)
    call nde_model_destroy(m)
    call expect(.not. c_associated(m%p), 'destroy leaves a null handle')
  end subroutine

  ! L(θ) = ½ Σ model(x)²: backward against central differences of the forward.
  subroutine fd_check(m, x, batch, what, idx)
    type(nde_model), intent(inout) :: m
    real(c_double), intent(in) :: x(:)
    integer, intent(in) :: batch
    character(len=*), intent(in) :: what
    integer, intent(in) :: idx(:)
    real(c_double), allocatable :: y(:), th(:), g(:)
    real(c_double), pointer :: pg(:), pth(:)
    real(c_double) :: lp, lm, fd, eps, rel, worst
    integer :: k, i
    allocate(y(nde_model_out_size(m) * batch), th(nde_model_n_params(m)), g(nde_model_n_params(m)))
    call ok(nde_model_forward(m, x, y, batch), what // ' forward')
    call ok(nde_zero_grad(m), 'zero grad')
    call ok(nde_model_backward(m, y, batch), what // ' backward')
    call ok(nde_get_grad(m, g), 'get grad')
    call ok(nde_get_params(m, th), 'get params')
    pg => nde_grad(m)
    pth => nde_theta(m)
    call expect(all(transfer(g, 1_int64, size(g)) == transfer(pg, 1_int64, size(pg))) .and. &
                all(transfer(th, 1_int64, size(th)) == transfer(pth, 1_int64, size(pth))), &
                what // ': the pointer views equal the copies')
    worst = 0
    do k = 1, size(idx)
      i = idx(k)
      eps = 1d-6 * max(1d0, abs(th(i)))
      th(i) = th(i) + eps
      call ok(nde_set_params(m, th), 'set params')
      call ok(nde_model_forward(m, x, y, batch), 'fd forward')
      lp = 0.5d0 * sum(y**2)
      th(i) = th(i) - 2 * eps
      call ok(nde_set_params(m, th), 'set params')
      call ok(nde_model_forward(m, x, y, batch), 'fd forward')
      lm = 0.5d0 * sum(y**2)
      th(i) = th(i) + eps
      fd = (lp - lm) / (2 * eps)
      rel = abs(fd - g(i)) / max(1d-3, abs(fd), abs(g(i)))
      worst = max(worst, rel)
    end do
    call ok(nde_set_params(m, th), 'set params')
    print '(a,a,es10.3,a,i0,a)', what, ': largest relative error vs central differences ', worst, &
          ' over ', size(idx), ' parameters'
    call expect(worst <= 1d-6, what // ': gradient differs from finite differences')
  end subroutine

  subroutine check_fd_mlp()
    type(nde_model) :: m
    real(c_double) :: x(3, 4)
    integer :: i
    integer, allocatable :: idx(:)
    call ok(nde_model_mlp_create(m, 3, 2, [5, 4], act=NDE_ACT_TANH), 'mlp')
    call ok(nde_model_init(m, 7_int64), 'init')
    x = reshape([(0.3d0 * sin(1.7d0 * i), i = 1, 12)], [3, 4])
    idx = [(i, i = 1, int(nde_model_n_params(m)))]
    call fd_check(m, reshape(x, [12]), 4, 'MLP', idx)
    call nde_model_destroy(m)
  end subroutine

  subroutine check_fd_fno()
    type(nde_ctx) :: ctx
    type(nde_model) :: m
    real(c_double) :: x(16, 2)
    integer :: i, n
    integer, allocatable :: idx(:)
    call ok(nde_ctx_create(ctx), 'ctx')
    call ok(nde_model_fno_create(m, ctx, [16], width=4, modes=[3], layers=2, proj_hidden=8, &
                                 max_batch=2, double64=.true.), 'fno')
    call ok(nde_model_init(m, 5), 'init')
    x = reshape([(sin(0.4d0 * i) + 0.1d0 * i / 32d0, i = 1, 32)], [16, 2])
    n = int(nde_model_n_params(m))
    idx = [(1 + mod(37 * i, n), i = 1, 40)]
    call fd_check(m, reshape(x, [32]), 2, 'FNO-1D', idx)
    call nde_model_destroy(m)
    call nde_ctx_destroy(ctx)
  end subroutine

  subroutine check_fd_fno2d()
    type(nde_ctx) :: ctx
    type(nde_model) :: m
    real(c_double) :: x(8, 8)
    integer :: i, j, n
    integer, allocatable :: idx(:)
    call ok(nde_ctx_create(ctx), 'ctx')
    call ok(nde_model_fno_create(m, ctx, [8, 8], width=3, modes=[2, 3], layers=1, proj_hidden=0, &
            double64=.true.), 'fno2d')
    call expect(nde_model_in_size(m) == 64 .and. nde_model_out_size(m) == 64, 'FNO-2D sizes')
    call ok(nde_model_init(m, 9), 'init')
    x = reshape([((cos(0.7d0 * i) * sin(0.3d0 * j), i = 1, 8), j = 1, 8)], [8, 8])
    n = int(nde_model_n_params(m))
    idx = [(1 + mod(29 * i, n), i = 1, 30)]
    call fd_check(m, reshape(x, [64]), 1, 'FNO-2D', idx)
    call nde_model_destroy(m)
    call nde_ctx_destroy(ctx)
  end subroutine

  ! The trainer's checkpoint holds θ: a fresh model of the same architecture loads the
  ! trained θ bit for bit; nde_trainer_evaluate gives the mean squared error computed here.
  subroutine check_trainer_checkpoint()
    type(nde_model) :: m, m2
    type(nde_trainer) :: tr
    type(nde_train_options) :: o
    real(c_double), target :: x(1, 8), y(1, 8)
    real(c_double) :: pred(1, 8), metric, mse
    real(c_double), allocatable :: th(:), th2(:)
    real(c_double), pointer :: pth(:)
    character(len=512) :: tmp
    character(len=:), allocatable :: path
    integer :: i, u, ln
    call get_environment_variable('TMPDIR', tmp, ln)
    if (ln == 0) tmp = '/tmp'
    write (tmp, '(a,a,i0,a)') trim(tmp), '/nde_fortran_test_', c_getpid(), '.safetensors'
    path = trim(tmp)
    x(1, :) = [(i / 8d0, i = 0, 7)]
    y = 2 * x
    call ok(nde_model_mlp_create(m, 1, 1, [8]), 'mlp')
    call ok(nde_model_init(m, 2), 'init')
    o = nde_train_defaults()
    o%batch = 4;  o%epochs = 5;  o%lr = 1d-2;  o%loss = NDE_LOSS_MSE;  o%metric = NDE_LOSS_MSE
    call expect(nde_trainer_create(tr, m, x(:, 1:8:2), y(:, 1:8:2), o) == NDE_ERR_ARG, &
                'trainer: a strided section is refused (the trainer would keep a pointer to a copy)')
    call ok(nde_trainer_create(tr, m, x, y, o, checkpoint=path), 'trainer')
    call ok(nde_trainer_run(tr), 'trainer run')
    call expect(nde_trainer_epoch(tr) == 5 .and. nde_trainer_step(tr) == 10, 'trainer: 5 epochs of 2 steps')
    call ok(nde_trainer_evaluate(tr, x, y, metric), 'evaluate')
    call ok(nde_model_set_training(m, .false.), 'eval mode')
    call ok(nde_model_forward(m, x, pred, 8), 'forward')
    mse = sum((pred - y)**2) / 8
    call expect(abs(metric - mse) <= 1d-14 * max(1d0, mse), 'nde_trainer_evaluate: the mean squared error')
    allocate (th(nde_model_n_params(m)), th2(nde_model_n_params(m)))
    call ok(nde_get_params(m, th), 'params')
    call ok(nde_model_mlp_create(m2, 1, 1, [8]), 'mlp 2')
    call ok(nde_checkpoint_load(m2, path), 'load the trainer checkpoint')
    call ok(nde_get_params(m2, th2), 'params 2')
    call expect(all(transfer(th, 1_int64, size(th)) == transfer(th2, 1_int64, size(th2))), &
                'trainer checkpoint: loaded theta differs from the trained one')
    ! save + load round trip through the binding
    call ok(nde_checkpoint_save(m2, path), 'save')
    call ok(nde_model_init(m2, 11), 'reinit')
    call ok(nde_checkpoint_load(m2, path), 'load')
    call ok(nde_get_params(m2, th2), 'params 3')
    call expect(all(transfer(th, 1_int64, size(th)) == transfer(th2, 1_int64, size(th2))), &
                'checkpoint save/load: theta differs')
    ! writes through the θ pointer change the model; nde_set_grad sets the gradient
    pth => nde_theta(m2)
    pth(1) = pth(1) + 1
    call ok(nde_model_forward(m2, x, pred, 8), 'forward after a write through nde_theta')
    call ok(nde_get_params(m2, th), 'params 4')
    call expect(abs(th(1) - (th2(1) + 1)) <= 0, 'nde_theta writes the model')
    call ok(nde_set_grad(m2, 2 * th), 'set grad')
    pth => nde_grad(m2)
    call expect(size(pth) == size(th), 'nde_grad: size')
    if (size(pth) == size(th)) call expect(maxval(abs(pth - 2 * th)) <= 0, 'nde_set_grad')
    open (newunit=u, file=path, status='old')
    close (u, status='delete')
    call nde_trainer_destroy(tr)
    call nde_model_destroy(m)
    call nde_model_destroy(m2)
  end subroutine

  ! du/dt = A u, A = [[-a, b], [-b, -a]]: u(t) = e^(-at) R(bt) u0 with R(φ) = [[c, s], [-s, c]].
  ! L = ½ Σ |u(1)|² = ½ e^(-2a) Σ |u0|²: ∂L/∂u0 = e^(-2a) u0, ∂L/∂a = -e^(-2a) Σ |u0|², ∂L/∂b = 0.
  subroutine check_user_field()
    real(c_double), target :: th(2)
    type(nde_solver) :: s
    real(c_double) :: u0(2, 3), ts(3), traj(2, 3, 3), exact(2, 3), dl(2, 3, 3), gu0(2, 3), g(2)
    real(c_double) :: e, c, sn, err
    integer :: k, j
    th = [0.3d0, 1.7d0]
    u0 = reshape([1d0, 0d0, 0.2d0, -0.7d0, -0.5d0, 0.4d0], [2, 3])
    ts = [0d0, 0.4d0, 1d0]
    call ok(nde_solver_create_field(s, 2, spiral_f, vjp=spiral_vjp, n_params=2, user=c_loc(th), &
                                    method=NDE_DOPRI5, rtol=1d-10, atol=1d-12), 'user field solver')
    call ok(nde_solve(s, u0, ts, traj), 'user field solve')
    err = 0
    do k = 1, 3
      e = exp(-th(1) * ts(k));  c = cos(th(2) * ts(k));  sn = sin(th(2) * ts(k))
      do j = 1, 3
        exact(:, j) = e * [c * u0(1, j) + sn * u0(2, j), -sn * u0(1, j) + c * u0(2, j)]
      end do
      err = max(err, maxval(abs(traj(:, :, k) - exact)))
    end do
    print '(a,es10.3)', 'user field: largest error of the solve vs the exact solution ', err
    call expect(err <= 1d-8, 'user field: solve differs from the exact solution')
    dl = 0
    dl(:, :, 3) = traj(:, :, 3)
    g = 0
    call ok(nde_adjoint_discrete(s, dl, g, gu0), 'user field adjoint')
    e = exp(-2 * th(1))
    err = max(maxval(abs(gu0 - e * u0)), abs(g(1) + e * sum(u0**2)), abs(g(2)))
    print '(a,es10.3)', 'user field: largest error of dL/du0, dL/da, dL/db vs exact ', err
    call expect(err <= 1d-8, 'user field: adjoint gradients differ from the exact ones')
    ! L2 = Σ u1(1): ∂L2/∂b = Σ u2(1), ∂L2/∂a = -Σ u1(1), ∂L2/∂u0 = e^(-a) (c, s) per sample
    dl = 0
    dl(1, :, 3) = 1
    g = 0
    call ok(nde_adjoint_discrete(s, dl, g, gu0), 'user field adjoint 2')
    e = exp(-th(1));  c = cos(th(2));  sn = sin(th(2))
    err = max(abs(g(2) - sum(traj(2, :, 3))), abs(g(1) + sum(traj(1, :, 3))), &
              maxval(abs(gu0(1, :) - e * c)), maxval(abs(gu0(2, :) - e * sn)))
    print '(a,es10.3)', 'user field: largest error of dL2/du0, dL2/da, dL2/db vs exact ', err
    call expect(err <= 1d-8, 'user field: adjoint gradients of L2 differ from the exact ones')
    call nde_solver_destroy(s)
  end subroutine

  subroutine check_errors()
    type(nde_model) :: m
    integer :: st
    real(c_double) :: th(3)
    character(len=:), allocatable :: msg
    call ok(nde_model_mlp_create(m, 2, 2, [4]), 'mlp')
    st = nde_checkpoint_load(m, 'no/such/checkpoint.safetensors')
    msg = nde_last_error()
    call expect(st == NDE_ERR_IO, 'missing checkpoint: NDE_ERR_IO')
    call expect(index(msg, 'no/such/checkpoint.safetensors') > 0, &
                'missing checkpoint: the message names the file ("' // msg // '")')
    call expect(nde_status_string(NDE_ERR_IO) /= '', 'status string')
    call expect(nde_get_params(m, th) == NDE_ERR_SHAPE, 'nde_get_params: wrong size is NDE_ERR_SHAPE')
    st = nde_model_forward(m, th, th, 1)    ! in_size 2, 3 values given
    msg = nde_last_error()
    call expect(st == NDE_ERR_SHAPE .and. index(msg, 'x has 3 values, expected 2') > 0, &
                'forward with a wrong size: NDE_ERR_SHAPE naming the sizes ("' // msg // '")')
    call nde_model_destroy(m)
    st = nde_model_mlp_create(m, 0, 2, [4])
    msg = nde_last_error()
    call expect(st == NDE_ERR_ARG .and. len(msg) > 0, 'bad MLP spec: status and message')
    call expect(.not. c_associated(m%p), 'bad MLP spec: null handle')
  end subroutine

end program
