! examples/fortran/train_node.f90 — train a small neural ODE from Fortran.
!
! Data: du/dt = A u with A = [[-0.1, 2], [-2, -0.1]] (a decaying spiral), exact solution
! u(t) = exp(-0.1 t) R(2t) u0, R the rotation by -2t, at 5 save times in [0, 1] for 32
! initial states. Model: du/dt = MLP(u), MLP 2 → 16 → 2 (tanh), solved by DOPRI5 with the
! discrete adjoint. Training: first the library's trainer (Adam, mean squared error,
! shuffled batches of 8), then a hand-written loop of full-batch steps with the optimizer
! (forward, loss gradient in Fortran, backward, optimizer step), as a code with its own
! loss would do. The program runs everything twice with the same seed and checks that
! the loss went down in both phases and that both runs give the same bits.
!
!   train_node [--epochs N] [--steps N]
program train_node
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int64, error_unit
  use nde
  implicit none
  integer, parameter :: n = 32, dim = 2, nt = 5
  integer :: epochs = 20, steps = 20
  real(c_double), target :: x(dim, n), y(dim, nt, n)
  real(c_double), target :: yflat(dim * nt, n) ! the trainer's targets: borrowed, must live on
  real(c_double) :: ts(nt)
  real(c_double), allocatable :: theta1(:), theta2(:), loss1(:), loss2(:)
  integer :: i

  call parse_args()
  ts = [(0.25d0 * (i - 1), i = 1, nt)]
  call make_data()
  yflat = reshape(y, [dim * nt, n])
  call run(theta1, loss1, .true.)
  call run(theta2, loss2, .false.)

  ! loss1: initial, after the trainer, after the manual loop
  if (.not. (loss1(2) < 0.5d0 * loss1(1))) call fail('the trainer did not halve the loss')
  if (.not. (loss1(3) < loss1(2))) call fail('the optimizer loop did not lower the loss')
  if (any(transfer(theta1, 1_int64, size(theta1)) /= transfer(theta2, 1_int64, size(theta2))) .or. &
      any(transfer(loss1, 1_int64, 3) /= transfer(loss2, 1_int64, 3))) &
    call fail('two runs with the same seed differ')
  print '(a)', 'train_node: loss decreased; two runs with seed 1 gave the same bits'
  deallocate (theta1, theta2, loss1, loss2)

contains

  subroutine fail(msg)
    character(len=*), intent(in) :: msg
    write (error_unit, '(a,a)') 'train_node: FAIL: ', msg
    stop 1
  end subroutine

  subroutine check(st, what)
    integer, intent(in) :: st
    character(len=*), intent(in) :: what
    if (st /= NDE_OK) then
      write (error_unit, '(a,a,a,a)') 'train_node: ', what, ': ', nde_last_error()
      stop 1
    end if
  end subroutine

  subroutine parse_args()
    character(len=64) :: a, v
    integer :: k, ios
    k = 1
    do while (k <= command_argument_count())
      call get_command_argument(k, a)
      if (trim(a) == '--help') then
        print '(a)', 'usage: train_node [--epochs N] [--steps N]   (defaults 20, 20)'
        stop
      end if
      if (trim(a) /= '--epochs' .and. trim(a) /= '--steps') then
        write (error_unit, '(a,a)') 'train_node: unknown option ', trim(a)
        stop 2
      end if
      call get_command_argument(k + 1, v)
      if (len_trim(v) == 0 .or. len_trim(v) > 6 .or. verify(trim(v), '0123456789') /= 0) then
        write (error_unit, '(a,a,a,a)') 'train_node: ', trim(a), ' ', 'needs an integer >= 1'
        stop 2
      end if
      if (trim(a) == '--epochs') read (v, *, iostat=ios) epochs
      if (trim(a) == '--steps') read (v, *, iostat=ios) steps
      if (epochs < 1 .or. steps < 1) then
        write (error_unit, '(a)') 'train_node: values must be >= 1'
        stop 2
      end if
      k = k + 2
    end do
  end subroutine

  subroutine make_data()
    real(c_double) :: r, phi, c, s, e
    integer :: j, k
    do j = 1, n
      r = 0.6d0 + 0.4d0 * (j - 1) / (n - 1)
      phi = 2.399963229728653d0 * (j - 1) ! golden angle: spread initial states
      x(:, j) = [r * cos(phi), r * sin(phi)]
      do k = 1, nt
        c = cos(2 * ts(k));  s = sin(2 * ts(k));  e = exp(-0.1d0 * ts(k))
        y(:, k, j) = e * [c * x(1, j) + s * x(2, j), -s * x(1, j) + c * x(2, j)]
      end do
    end do
  end subroutine

  ! Mean squared error of the model over all data (evaluation mode).
  real(c_double) function data_loss(m) result(l)
    type(nde_model), intent(in) :: m
    real(c_double) :: pred(dim, nt, n)
    call check(nde_model_set_training(m, .false.), 'evaluation mode')
    call check(nde_model_forward(m, x, pred, n), 'forward')
    l = sum((pred - y)**2) / size(y)
  end function

  subroutine run(theta, losses, verbose)
    real(c_double), allocatable, intent(out) :: theta(:), losses(:)
    logical, intent(in) :: verbose
    type(nde_model) :: field, node
    type(nde_trainer) :: tr
    type(nde_train_options) :: o
    type(nde_optim) :: opt
    real(c_double) :: pred(dim, nt, n), gy(dim, nt, n), l
    integer :: k

    allocate (losses(3))
    call check(nde_model_mlp_create(field, dim, dim, [16], act=NDE_ACT_TANH), 'MLP')
    call check(nde_model_node_create(node, field, ts, output=NDE_NODE_TRAJECTORY, &
                                     method=NDE_DOPRI5, rtol=1d-6, atol=1d-8), 'neural ODE')
    call check(nde_model_init(node, 1), 'init')
    losses(1) = data_loss(node)

    ! 1. the trainer
    o = nde_train_defaults()
    o%batch = 8
    o%epochs = epochs
    o%seed = 1
    o%optim_kind = NDE_OPT_ADAM
    o%lr = 1d-2
    o%loss = NDE_LOSS_MSE
    call check(nde_trainer_create(tr, node, x, yflat, o), 'trainer')
    call check(nde_trainer_run(tr), 'trainer run')
    if (verbose) print '(a,i0,a,i0,a,es12.5)', 'trainer: ', nde_trainer_epoch(tr), ' epochs, ', &
      nde_trainer_step(tr), ' steps, last epoch train loss ', nde_trainer_train_loss(tr)
    call nde_trainer_destroy(tr)
    losses(2) = data_loss(node)

    ! 2. the optimizer in a hand-written loop: full batch, d(mse)/d(pred) computed here
    call check(nde_optim_create(opt, node, kind=NDE_OPT_ADAM, lr=5d-3), 'optimizer')
    do k = 1, steps
      call check(nde_model_set_training(node, .true.), 'training mode')
      call check(nde_model_forward(node, x, pred, n), 'forward')
      l = sum((pred - y)**2) / size(y)
      gy = 2 * (pred - y) / size(y)
      call check(nde_zero_grad(node), 'zero grad')
      call check(nde_model_backward(node, gy, n), 'backward')
      call check(nde_optim_step(opt), 'optimizer step')
      if (verbose .and. (k == 1 .or. mod(k, 5) == 0)) print '(a,i3,a,es12.5)', 'optimizer step ', k, &
        '  loss ', l
    end do
    call nde_optim_destroy(opt)
    losses(3) = data_loss(node)
    if (verbose) print '(a,3es12.5)', 'data loss: initial, after trainer, after optimizer loop:', losses

    allocate (theta(nde_model_n_params(node)))
    call check(nde_get_params(node, theta), 'parameters')
    call nde_model_destroy(node)
  end subroutine

end program
